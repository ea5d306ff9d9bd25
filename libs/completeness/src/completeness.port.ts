import { ValidationError } from '@app/contracts';
import { ComponentHealth, definePort, serviceAddress } from '@app/runtime';

export interface SourceView {
  source: string;
  first_sequence: number;
  last_sequence: number;
  last_seen_at: string;
  events: number;
  /** Open gaps, inclusive ranges of the sequences not received. */
  gaps_open: Array<{ from: number; to: number }>;
  missing: number;
  gaps_detected: number;
  duplicates: number;
  usual_interval_ms: number | null;
  silent_since: string | null;
}

/** Completeness as the API sees it: in-process in the embedded app, over TCP (on the integrity service) in the gateway. */
export interface CompletenessPort {
  sources(tenantId: string): Promise<SourceView[]>;
  health(): Promise<ComponentHealth>;
}

/** It runs in the integrity service, so it answers on that service's address (one listener serves both ports). */
export const COMPLETENESS_PORT_DEFINITION = definePort<CompletenessPort>({
  name: 'completeness',
  service: 'completeness',
  address: serviceAddress('INTEGRITY', 4007),
  methods: {
    sources: {
      pattern: 'audit.completeness.sources',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => {
        const tenantId = (m as { tenantId?: unknown } | null)?.tenantId;
        if (typeof tenantId !== 'string' || tenantId === '') {
          throw new ValidationError('malformed completeness request', [{ field: 'tenantId', message: 'must be a non-empty string' }]);
        }
        return [tenantId];
      },
    },
    health: { pattern: 'audit.completeness.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
  },
});

export const COMPLETENESS_PORT = COMPLETENESS_PORT_DEFINITION.token;
