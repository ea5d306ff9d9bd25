/** Stable error codes: part of the public API, listed in docs/api.md. */
export const ErrorCode = {
  ValidationFailed: 'validation_failed',
  InvalidJson: 'invalid_json',
  PayloadTooLarge: 'payload_too_large',
  UnsupportedMediaType: 'unsupported_media_type',
  /** The request could not be read as HTTP (a malformed request line or header). */
  BadRequest: 'bad_request',
  HeadersTooLarge: 'headers_too_large',
  UriTooLong: 'uri_too_long',
  RequestTimeout: 'request_timeout',
  BatchTooLarge: 'batch_too_large',
  InvalidQuery: 'invalid_query',
  NotFound: 'not_found',
  /** An export or report asked for before its file is written (or after it expired). */
  NotReady: 'not_ready',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  IdempotencyKeyReused: 'idempotency_key_reused',
  RateLimited: 'rate_limited',
  LogWriteRejected: 'log_write_rejected',
  Unavailable: 'unavailable',
  /** The event is in the integrity tree but no signed checkpoint covers it yet (409). */
  NotYetCheckpointed: 'not_yet_checkpointed',
  /** The same one-at-a-time operation is already running (a backup): 409; try again when it ends. */
  InProgress: 'in_progress',
  /** The route belongs to a capability this deployment turned off (AUDIT_CAPABILITIES_OFF): 404. */
  CapabilityOff: 'capability_off',
  Internal: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDetail {
  /** JSON pointer-ish path of the offending field, e.g. /metadata/site_id or /3/event_type for batches. */
  field?: string;
  message: string;
  [extra: string]: unknown;
}

/** Base of every error the services raise on purpose; the HTTP layer maps `status` and renders `code`. */
export class AuditError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): { error: { code: ErrorCode; message: string; details: ErrorDetail[] } } {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export class ValidationError extends AuditError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super(ErrorCode.ValidationFailed, message, 400, details);
  }
}

export class InvalidQueryError extends AuditError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super(ErrorCode.InvalidQuery, message, 400, details);
  }
}

export class NotFoundError extends AuditError {
  constructor(message: string) {
    super(ErrorCode.NotFound, message, 404);
  }
}

/** A one-at-a-time operation asked for while it runs: 409, since waiting, not changing the request, helps. */
export class InProgressError extends AuditError {
  constructor(message: string) {
    super(ErrorCode.InProgress, message, 409, [{ field: '/', message: 'wait for it to finish, then ask again' }]);
  }
}

export class UnavailableError extends AuditError {
  constructor(message: string, retryAfterSeconds = 5) {
    super(ErrorCode.Unavailable, message, 503, [], { 'retry-after': String(retryAfterSeconds) });
  }
}

/**
 * The event log refused a write for a reason that does not pass (Kafka's non-retriable MESSAGE_TOO_LARGE,
 * INVALID_RECORD, ...): 422 without Retry-After, because sending the same request again fails the same way,
 * unlike the 503 of a log that is only unavailable.
 */
export class LogWriteRejectedError extends AuditError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(ErrorCode.LogWriteRejected, `${message}; retrying the same request will not help`, 422, [{ field: '/', message: reason }]);
  }
}

/** A request for a capability the deployment does not run (AUDIT_CAPABILITIES_OFF names it). */
export class CapabilityOffError extends AuditError {
  constructor(readonly capability: string) {
    super(ErrorCode.CapabilityOff, `the ${capability} capability is turned off on this deployment (AUDIT_CAPABILITIES_OFF)`, 404, [
      { field: 'AUDIT_CAPABILITIES_OFF', message: `lists ${capability}`, capability },
    ]);
  }
}
