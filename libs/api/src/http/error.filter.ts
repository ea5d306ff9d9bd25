import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { FastifyReply } from 'fastify';
import { AuditError, ErrorCode } from '@app/contracts';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

const FASTIFY_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: ErrorCode.PayloadTooLarge,
    message: 'the request body is larger than the limit (AUDIT_BODY_LIMIT_BYTES, 5 MiB by default)',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: ErrorCode.UnsupportedMediaType,
    message: 'unsupported Content-Type; send application/json or application/x-ndjson',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: ErrorCode.InvalidJson, message: 'the body is empty; send a JSON object or array' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: ErrorCode.InvalidJson, message: 'Content-Length does not match the body' },
};

const STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
  503: ErrorCode.Unavailable,
};

const STATUS_MESSAGES: Record<number, string> = {
  413: 'the request body is larger than the limit (AUDIT_BODY_LIMIT_BYTES, 5 MiB by default)',
  415: 'unsupported Content-Type; send application/json or application/x-ndjson',
};

/** Renders every error as { error: { code, message, details } }; unexpected ones as a 500 without internals. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent || reply.raw.headersSent) return;
    const { status, body, headers } = this.render(exception);
    for (const [k, v] of Object.entries(headers)) void reply.header(k, v);
    void reply.status(status).send(body);
  }

  render(exception: unknown): { status: number; body: unknown; headers: Record<string, string> } {
    if (exception instanceof AuditError) {
      return { status: exception.status, body: exception.toBody(), headers: exception.headers };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const res = exception.getResponse();
      const message =
        STATUS_MESSAGES[status] ?? (typeof res === 'string' ? res : String((res as { message?: unknown }).message ?? exception.message));
      return { status, body: { error: { code: STATUS_CODES[status] ?? ErrorCode.Internal, message, details: [] } }, headers: {} };
    }
    const fe = exception as FastifyLikeError;
    if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
      const code = known?.code ?? STATUS_CODES[fe.statusCode] ?? ErrorCode.ValidationFailed;
      return {
        status: fe.statusCode,
        body: { error: { code, message: known?.message ?? fe.message ?? 'bad request', details: [] } },
        headers: {},
      };
    }
    this.logger.error({ err: exception }, 'unhandled error');
    return {
      status: 500,
      body: { error: { code: ErrorCode.Internal, message: 'internal error; see the service log', details: [] } },
      headers: {},
    };
  }
}
