import { STATUS_CODES } from 'node:http';
import { Socket } from 'node:net';
import { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '@app/contracts';

const envelope = (code: ErrorCode, message: string): string => JSON.stringify({ error: { code, message, details: [] } });

/** What Node's parser refuses before Fastify sees a request, mapped to a status and the error envelope. */
export function describeClientError(err: { code?: string }): { status: number; code: ErrorCode; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: ErrorCode.HeadersTooLarge,
        message: 'the request line and headers are larger than the server accepts (16 KiB)',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: ErrorCode.RequestTimeout, message: 'the request was not received in time' };
    default:
      return { status: 400, code: ErrorCode.BadRequest, message: 'the request is not valid HTTP/1.1' };
  }
}

/**
 * Fastify's `clientErrorHandler`: errors of the HTTP parser (431 header overflow, malformed requests, 408),
 * which never reach a route or the error filter. Same envelope as every other error, and a warning in the log
 * (the connection is closed: a client still sending its body sees EPIPE, so the log is where the reason is).
 */
export function clientErrorHandler(logger: { warn: (o: object, msg: string) => void }) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, code, message } = describeClientError(err);
    logger.warn(
      { status, err_code: err.code, remote: socket.remoteAddress, err: err.message },
      'HTTP request refused by the parser; connection closed',
    );
    if (socket.writable) {
      const body = envelope(code, message);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}

/** Fastify's `frameworkErrors`: a URL that is not valid percent-encoding (400) or a path parameter too long (414). */
export function frameworkErrors(error: Error & { code?: string; statusCode?: number }, _req: FastifyRequest, reply: FastifyReply): void {
  const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  void reply
    .status(tooLong ? 414 : (error.statusCode ?? 400))
    .type('application/json; charset=utf-8')
    .send(
      envelope(
        tooLong ? ErrorCode.UriTooLong : ErrorCode.BadRequest,
        tooLong ? 'a path segment of the URL is longer than 100 characters' : 'the URL is not valid percent-encoding',
      ),
    );
}
