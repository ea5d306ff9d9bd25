import { Readable, Transform, TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { FastifyInstance } from 'fastify';
import { AuditError, ErrorCode } from '@app/contracts';

type Decoder = () => Transform;

/** zstd only where this Node has it (22.15+ / 23.8+); the others are in every supported Node. */
const zstd = (zlib as unknown as { createZstdDecompress?: Decoder }).createZstdDecompress;

export const CONTENT_DECODERS: Record<string, Decoder> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
  ...(zstd ? { zstd: () => zstd() } : {}),
};

/** The request stream as Fastify's body reader sees it: `receivedEncodedLength` is checked against Content-Length. */
type DecodedPayload = Transform & { receivedEncodedLength: number };

/**
 * Decompresses `raw` with `decoder`, failing with a 413 as soon as the decompressed bytes pass `limit`: the
 * limit is on what the server has to hold, so a small zip bomb stops after `limit` bytes of output instead of
 * inflating to gigabytes. The request stream itself is only unpiped, so the error response can still be sent.
 */
export function boundedDecode(raw: Readable, decoder: Transform, limit: number, encoding: string): DecodedPayload {
  let out = 0;
  const bounded = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback): void {
      out += chunk.length;
      if (out > limit) {
        raw.unpipe(decoder);
        decoder.destroy();
        cb(
          new AuditError(
            ErrorCode.PayloadTooLarge,
            `the ${encoding}-decoded body is larger than the limit (AUDIT_BODY_LIMIT_BYTES, ${limit} bytes)`,
            413,
          ),
        );
        return;
      }
      cb(null, chunk);
    },
  }) as DecodedPayload;
  bounded.receivedEncodedLength = 0;
  raw.on('data', (chunk: Buffer) => (bounded.receivedEncodedLength += chunk.length));
  decoder.on('error', (e: Error) => {
    raw.unpipe(decoder);
    bounded.destroy(
      new AuditError(ErrorCode.InvalidJson, `the body is not valid ${encoding} data: ${e.message}`, 400, [
        { field: '/', message: e.message },
      ]),
    );
  });
  // Fastify listens for errors only when it reads the body (not for a GET, or a body of a type it refuses):
  // without a listener of its own, a corrupt stream nobody reads would throw out of the process.
  bounded.on('error', () => undefined);
  raw.pipe(decoder).pipe(bounded);
  return bounded;
}

/**
 * Accepts request bodies sent with `Content-Encoding: gzip`, `deflate`, `br` (and `zstd` where Node has it),
 * as log shippers send them, with the decompressed size bounded by the body limit. Any other encoding is a 415.
 */
export function registerContentDecoding(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    const header = request.headers['content-encoding'];
    const encoding = (Array.isArray(header) ? header.join(',') : (header ?? '')).trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') {
      done(null, payload);
      return;
    }
    const decoder = CONTENT_DECODERS[encoding];
    if (!decoder) {
      done(
        new AuditError(
          ErrorCode.UnsupportedMediaType,
          `unsupported Content-Encoding '${encoding.slice(0, 40)}'; send identity, ${Object.keys(CONTENT_DECODERS).join(', ')}`,
          415,
        ),
        payload,
      );
      return;
    }
    done(null, boundedDecode(payload, decoder(), bodyLimit, encoding));
  });
}
