import { ArgumentsHost, Catch, Logger, RpcExceptionFilter } from '@nestjs/common';
import { Observable, throwError, TimeoutError } from 'rxjs';
import { AuditError, ErrorCode, ErrorDetail, UnavailableError } from '@app/contracts';

/** How an AuditError crosses the TCP transport: everything the HTTP layer needs to answer as the service meant. */
export interface RpcErrorPayload {
  audit_error: {
    code: ErrorCode;
    message: string;
    status: number;
    details: ErrorDetail[];
    headers: Record<string, string>;
  };
}

const ERROR_CODES = new Set<string>(Object.values(ErrorCode));

export function isRpcErrorPayload(value: unknown): value is RpcErrorPayload {
  if (value === null || typeof value !== 'object') return false;
  const e = (value as { audit_error?: unknown }).audit_error;
  if (e === null || typeof e !== 'object') return false;
  const { code, message, status } = e as Record<string, unknown>;
  return typeof code === 'string' && ERROR_CODES.has(code) && typeof message === 'string' && typeof status === 'number';
}

/** Service side: an error as the payload the caller will rebuild; internals of unexpected errors stay in the log. */
export function toRpcErrorPayload(error: unknown, service: string, logger: Logger): RpcErrorPayload {
  if (error instanceof AuditError) {
    return {
      audit_error: { code: error.code, message: error.message, status: error.status, details: error.details, headers: error.headers },
    };
  }
  if (isConnectionFailure(error)) {
    // A store of the service (Postgres, a ClickHouse server) is unreachable: the client should retry later.
    logger.warn({ err: error }, 'a store is unreachable');
    const e = new UnavailableError(`a store of the ${service} is unavailable; retry shortly`, 5);
    return { audit_error: { code: e.code, message: e.message, status: e.status, details: [], headers: e.headers } };
  }
  logger.error({ err: error }, 'unhandled error in an RPC handler');
  return {
    audit_error: {
      code: ErrorCode.Internal,
      message: `internal error in the ${service}; see its log`,
      status: 500,
      details: [],
      headers: {},
    },
  };
}

/** Replaces Nest's default RPC filter, which turns every error into a bare "Internal server error". */
@Catch()
export class RpcErrorFilter implements RpcExceptionFilter<unknown> {
  private readonly logger = new Logger(RpcErrorFilter.name);

  constructor(private readonly service: string) {}

  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => toRpcErrorPayload(exception, this.service, this.logger));
  }
}

/** Socket errors meaning a peer (a service, or a service's store) could not be reached or went away. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const NO_HANDLER = 'There is no matching message handler defined in the remote service.';
/** How node-postgres reports a lost or impossible connection (it sets no code on these). */
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

function isConnectionFailure(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (typeof code === 'string' && CONNECTION_ERRORS.has(code)) || (typeof message === 'string' && PG_CONNECTION_MESSAGES.test(message));
}

/**
 * Caller side: what a failed request to a service becomes. The service's own AuditError comes back with its
 * status, code, details and headers; not reaching the service (refused, reset, closed, timed out) is a 503
 * with Retry-After, because the client should retry, not report a bug.
 */
export function fromRpcError(error: unknown, service: string, timeoutMs: number): Error {
  if (isRpcErrorPayload(error)) {
    const e = error.audit_error;
    const status = Number.isInteger(e.status) && e.status >= 400 && e.status <= 599 ? e.status : 500;
    return new AuditError(e.code, e.message, status, Array.isArray(e.details) ? e.details : [], e.headers ?? {});
  }
  if (error instanceof TimeoutError) {
    return new UnavailableError(`the ${service} did not answer within ${Math.round(timeoutMs / 1000)} s`, 5);
  }
  const code = error !== null && typeof error === 'object' ? (error as { code?: unknown }).code : undefined;
  if ((typeof code === 'string' && CONNECTION_ERRORS.has(code)) || (error instanceof Error && error.message === 'Connection closed')) {
    return new UnavailableError(`the ${service} is unreachable (${typeof code === 'string' ? code : 'connection closed'})`, 2);
  }
  // During a rolling upgrade a newer gateway can meet an older service: retryable, not a bug to report.
  if (error === NO_HANDLER || (error !== null && typeof error === 'object' && (error as { err?: unknown }).err === NO_HANDLER)) {
    return new UnavailableError(`the ${service} does not handle this request yet (version skew during an upgrade?)`, 5);
  }
  if (error instanceof Error) return error;
  return new Error(`the ${service} failed: ${JSON.stringify(error)?.slice(0, 500)}`);
}
