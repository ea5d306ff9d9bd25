import { ValidationError } from '@app/contracts';
import { ComponentHealth, definePort, serviceAddress } from '@app/runtime';
import { ExpiredIdempotencyKeys, IngestRequest, IngestResponse } from './ingest.service';

/** The ingest side as the API layer sees it: in-process in the embedded app, over TCP in the gateway. */
export interface IngestPort {
  ingest(request: IngestRequest): Promise<IngestResponse>;
  /** Idempotency keys past their window: counted, or with `apply` deleted (GET and POST /audit/optimize). */
  expireIdempotencyKeys(apply: boolean): Promise<ExpiredIdempotencyKeys>;
  health(): Promise<ComponentHealth>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function fail(field: string, message: string): never {
  throw new ValidationError(`malformed ingest request: ${field} ${message}`, [{ field, message }]);
}

/**
 * The ingest-gateway checks the envelope of what the API gateway sends (it is reachable on the network, and a
 * version skew should fail loudly); the events themselves go through the one event validator.
 */
export function parseIngestMessage(m: unknown): IngestRequest {
  if (!isObject(m)) fail('/', 'must be an object');
  if (!Array.isArray(m.events)) fail('events', 'must be an array');
  for (const f of ['ipAddress', 'userAgent', 'sessionId', 'source', 'idempotencyKey'] as const) {
    if (m[f] !== undefined && typeof m[f] !== 'string') fail(f, 'must be a string');
  }
  if (typeof m.tenantId !== 'string' || m.tenantId === '') fail('tenantId', 'must be a non-empty string');
  if (m.restore !== undefined && typeof m.restore !== 'boolean') fail('restore', 'must be a boolean');
  return { ...(m as unknown as IngestRequest), batch: m.batch === true, tenantId: m.tenantId, restore: m.restore === true };
}

export const INGEST_PORT_DEFINITION = definePort<IngestPort>({
  name: 'ingest',
  service: 'ingest-gateway',
  address: serviceAddress('INGEST', 4001),
  methods: {
    ingest: { pattern: 'audit.ingest', deadline: 'ingestMs', encode: (request) => request, decode: (m) => [parseIngestMessage(m)] },
    expireIdempotencyKeys: {
      pattern: 'audit.ingest.expire-idempotency-keys',
      deadline: 'queryMs',
      encode: (apply) => ({ apply }),
      decode: (m) => {
        if (!isObject(m) || typeof m.apply !== 'boolean') fail('apply', 'must be a boolean');
        return [m.apply];
      },
    },
    health: { pattern: 'audit.ingest.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
  },
});

export const INGEST_PORT = INGEST_PORT_DEFINITION.token;
