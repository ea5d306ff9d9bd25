import { ValidationError } from '@app/contracts';
import { definePort, serviceAddress } from '@app/runtime';
import type { AlertingPort, NotificationMessage } from './alerting.service';

export interface AlertingMessage {
  tenantId: string;
  id?: string;
  body?: unknown;
  enabled?: boolean;
  limit?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The envelope only: the rule body itself is validated by the service (parseRuleDefinition), in both modes. */
export function parseAlertingMessage(m: unknown, pattern: string, need: Array<'id' | 'enabled' | 'limit'> = []): AlertingMessage {
  const fail = (field: string, message: string): never => {
    throw new ValidationError(`malformed ${pattern} request: ${field} ${message}`, [{ field, message }]);
  };
  if (!isObject(m)) fail('/', 'must be an object');
  const msg = m as Record<string, unknown>;
  if (typeof msg.tenantId !== 'string' || msg.tenantId === '') fail('tenantId', 'must be a non-empty string');
  if (need.includes('id') && typeof msg.id !== 'string') fail('id', 'must be a string');
  if (need.includes('enabled') && typeof msg.enabled !== 'boolean') fail('enabled', 'must be a boolean');
  if (need.includes('limit') && (!Number.isInteger(msg.limit) || (msg.limit as number) < 1 || (msg.limit as number) > 1000)) {
    fail('limit', 'must be between 1 and 1000');
  }
  return msg as unknown as AlertingMessage;
}

export const ALERTING_PORT_DEFINITION = definePort<AlertingPort>({
  name: 'alerting',
  service: 'alerting',
  address: serviceAddress('ALERTING', 4003),
  methods: {
    create: {
      pattern: 'audit.alerting.create',
      deadline: 'queryMs',
      encode: (tenantId, body) => ({ tenantId, body }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'create');
        return [p.tenantId, p.body];
      },
    },
    list: {
      pattern: 'audit.alerting.list',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => [parseAlertingMessage(m, 'list').tenantId],
    },
    get: {
      pattern: 'audit.alerting.get',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'get', ['id']);
        return [p.tenantId, p.id as string];
      },
    },
    update: {
      pattern: 'audit.alerting.update',
      deadline: 'queryMs',
      encode: (tenantId, id, body) => ({ tenantId, id, body }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'update', ['id']);
        return [p.tenantId, p.id as string, p.body];
      },
    },
    remove: {
      pattern: 'audit.alerting.remove',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'remove', ['id']);
        return [p.tenantId, p.id as string];
      },
    },
    setEnabled: {
      pattern: 'audit.alerting.set-enabled',
      deadline: 'queryMs',
      encode: (tenantId, id, enabled) => ({ tenantId, id, enabled }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'set-enabled', ['id', 'enabled']);
        return [p.tenantId, p.id as string, p.enabled as boolean];
      },
    },
    test: {
      pattern: 'audit.alerting.test',
      // A test send waits for the receiver (15 s at most per channel).
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'test', ['id']);
        return [p.tenantId, p.id as string];
      },
    },
    firings: {
      pattern: 'audit.alerting.firings',
      deadline: 'queryMs',
      encode: (tenantId, id, limit) => ({ tenantId, id, limit }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'firings', ['id', 'limit']);
        return [p.tenantId, p.id as string, p.limit as number];
      },
    },
    openChannel: {
      pattern: 'audit.alerting.open-channel',
      deadline: 'queryMs',
      encode: (tenantId, owner, body) => ({ tenantId, owner, body }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'open-channel');
        const owner = (m as Record<string, unknown>).owner;
        if (typeof owner !== 'string' || owner === '')
          throw new ValidationError('malformed open-channel request: owner must be a string', [
            { field: 'owner', message: 'must be a string' },
          ]);
        return [p.tenantId, owner, p.body];
      },
    },
    closeChannel: {
      pattern: 'audit.alerting.close-channel',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'close-channel', ['id']);
        return [p.tenantId, p.id as string];
      },
    },
    notify: {
      pattern: 'audit.alerting.notify',
      deadline: 'queryMs',
      encode: (tenantId, id, message) => ({ tenantId, id, body: message }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'notify', ['id']);
        const b = p.body as Record<string, unknown> | undefined;
        if (!isObject(b) || typeof b.id !== 'string' || typeof b.subject !== 'string' || typeof b.text !== 'string' || !isObject(b.payload))
          throw new ValidationError('malformed notify request: body must be { id, subject, text, payload }', [
            { field: 'body', message: 'must be { id, subject, text, payload }' },
          ]);
        return [p.tenantId, p.id as string, b as unknown as NotificationMessage];
      },
    },
    notifications: {
      pattern: 'audit.alerting.notifications',
      deadline: 'queryMs',
      encode: (tenantId, id) => ({ tenantId, id }),
      decode: (m) => {
        const p = parseAlertingMessage(m, 'notifications', ['id']);
        return [p.tenantId, p.id as string];
      },
    },
    health: { pattern: 'audit.alerting.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
  },
});

export const ALERTING_PORT = ALERTING_PORT_DEFINITION.token;
