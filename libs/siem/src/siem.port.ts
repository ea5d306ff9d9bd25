import { ValidationError } from '@app/contracts';
import { ComponentHealth, definePort, serviceAddress } from '@app/runtime';
import type { Integration, IntegrationHealth } from './integration';

export interface IntegrationView extends Integration {
  health: IntegrationHealth;
}

/** What POST /audit/integrations/:id/test answers: the exact bytes written and what came of it. */
export interface TestResult {
  outcome: 'sent' | 'failed';
  /** The frame as written (octet count or LF included), as UTF-8 text and as base64 for the exact bytes. */
  bytes: string;
  bytes_base64: string;
  transport: string;
  destination: string;
  error: string | null;
  event_id: string;
}

/** The SIEM forwarder as the API sees it: in-process in the embedded app, over TCP in the gateway. */
export interface SiemPort {
  create(tenantId: string, body: unknown): Promise<IntegrationView>;
  list(tenantId: string): Promise<IntegrationView[]>;
  get(tenantId: string, id: string): Promise<IntegrationView>;
  update(tenantId: string, id: string, body: unknown): Promise<IntegrationView>;
  /** Answers the id removed: an RPC answer carries a value (undefined does not cross the TCP transport). */
  remove(tenantId: string, id: string): Promise<{ id: string }>;
  setStatus(tenantId: string, id: string, status: 'active' | 'paused'): Promise<IntegrationView>;
  test(tenantId: string, id: string): Promise<TestResult>;
  health(): Promise<ComponentHealth>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function field(m: unknown, name: string): string {
  if (!isObject(m) || typeof m[name] !== 'string' || m[name] === '') {
    throw new ValidationError(`malformed siem request: ${name} must be a non-empty string`, [
      { field: name, message: 'must be a non-empty string' },
    ]);
  }
  return m[name];
}

/** The body itself is validated by the forwarder (parseIntegrationSettings), like any HTTP body, on arrival. */
export const SIEM_PORT_DEFINITION = definePort<SiemPort>({
  name: 'siem',
  service: 'siem-forwarder',
  address: serviceAddress('SIEM', 4004),
  methods: {
    create: {
      pattern: 'audit.siem.create',
      deadline: 'queryMs',
      encode: (tenantId, body) => ({ tenantId, body }),
      decode: (m) => [field(m, 'tenantId'), (m as { body: unknown }).body],
    },
    list: { pattern: 'audit.siem.list', deadline: 'queryMs', encode: (tenantId) => ({ tenantId }), decode: (m) => [field(m, 'tenantId')] },
    get: {
      pattern: 'audit.siem.get',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => [field(m, 'tenantId'), field(m, 'id')],
    },
    update: {
      pattern: 'audit.siem.update',
      deadline: 'queryMs',
      encode: (tenantId, id, body) => ({ tenantId, id, body }),
      decode: (m) => [field(m, 'tenantId'), field(m, 'id'), (m as { body: unknown }).body],
    },
    remove: {
      pattern: 'audit.siem.remove',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => [field(m, 'tenantId'), field(m, 'id')],
    },
    setStatus: {
      pattern: 'audit.siem.set-status',
      deadline: 'queryMs',
      encode: (tenantId, id, status) => ({ tenantId, id, status }),
      decode: (m) => {
        const status = field(m, 'status');
        if (status !== 'active' && status !== 'paused')
          throw new ValidationError('malformed siem request: status', [{ field: 'status', message: 'must be active or paused' }]);
        return [field(m, 'tenantId'), field(m, 'id'), status];
      },
    },
    test: {
      pattern: 'audit.siem.test',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => [field(m, 'tenantId'), field(m, 'id')],
    },
    health: { pattern: 'audit.siem.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
  },
});

export const SIEM_PORT = SIEM_PORT_DEFINITION.token;
