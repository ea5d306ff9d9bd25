import { FastifyRequest } from 'fastify';
import { AuditError, ErrorCode } from '@app/contracts';
import { Principal } from '@app/auth';
import { AuthedRequest, clientIp } from '../http/auth.guard';

// Shorter than the event field's 128 so `<key>:<index>` of a batch still fits.
const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_.:-]{1,120}$/;

function header(req: FastifyRequest, name: string, max: number): string | undefined {
  const v = req.headers[name];
  if (typeof v !== 'string' || v === '') return undefined;
  return v.slice(0, max);
}

export interface RequestInfo {
  principal: Principal;
  /** The tenant to read and write: the key's own, or the one an operator key named in X-Audit-Tenant. */
  tenantId: string;
  ipAddress: string;
  userAgent?: string;
  sessionId?: string;
  source?: string;
  idempotencyKey?: string;
}

/** What the edge knows about a request: used to fill ip address, user agent and session id of events. */
export function requestInfo(req: FastifyRequest): RequestInfo {
  const principal = (req as AuthedRequest).principal;
  if (!principal) throw new AuditError(ErrorCode.Unauthorized, 'not authenticated', 401);
  const idempotencyKey = header(req, 'idempotency-key', 1000);
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_RE.test(idempotencyKey)) {
    throw new AuditError(ErrorCode.ValidationFailed, `the Idempotency-Key header must match ${IDEMPOTENCY_KEY_RE.source}`, 400, [
      { field: 'Idempotency-Key', message: `must match ${IDEMPOTENCY_KEY_RE.source}` },
    ]);
  }
  return {
    principal,
    tenantId: (req as AuthedRequest).tenantId ?? principal.tenantId,
    ipAddress: clientIp(req),
    userAgent: header(req, 'user-agent', 512),
    sessionId: header(req, 'x-session-id', 256),
    source: header(req, 'x-audit-source', 128),
    idempotencyKey,
  };
}
