import { FastifyInstance, FastifyRequest } from 'fastify';
import { AuditError, ErrorCode } from '@app/contracts';

/**
 * Removes `//` and `/* *\/` comments outside strings. The user guide's own curl examples carry `//` comments
 * inside JSON bodies, so bodies that are JSON once comments are removed are accepted as a convenience.
 */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
      out += ' ';
    } else out += c;
  }
  return out;
}

function invalidJson(message: string, field = '/'): AuditError {
  return new AuditError(ErrorCode.InvalidJson, message, 400, [{ field, message }]);
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw invalidJson('the body is empty; send a JSON object or array');
  try {
    return JSON.parse(text);
  } catch (first) {
    if (text.includes('/')) {
      try {
        return JSON.parse(stripJsonComments(text));
      } catch {
        // fall through to the original error, which points at the real problem
      }
    }
    throw invalidJson(`the body is not valid JSON: ${(first as Error).message}`);
  }
}

/** NDJSON: one event per non-blank line; an error names the line. */
export function parseNdjsonBody(text: string): unknown[] {
  const out: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw invalidJson(`line ${i + 1} is not valid JSON: ${(e as Error).message}`, `line ${i + 1}`);
    }
  }
  if (out.length === 0) throw invalidJson('the body holds no events');
  return out;
}

export const NDJSON_MARK = Symbol('ndjson');

export function registerBodyParsers(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  fastify.addContentTypeParser(
    ['application/json', 'text/plain'],
    { parseAs: 'string', bodyLimit },
    (_req: FastifyRequest, body: string | Buffer, done) => {
      try {
        done(null, parseJsonBody(String(body)));
      } catch (e) {
        done(e as Error, undefined);
      }
    },
  );
  fastify.addContentTypeParser(
    ['application/x-ndjson', 'application/jsonl', 'application/ndjson'],
    { parseAs: 'string', bodyLimit },
    (_req: FastifyRequest, body: string | Buffer, done) => {
      try {
        const events = parseNdjsonBody(String(body));
        Object.defineProperty(events, NDJSON_MARK, { value: true });
        done(null, events);
      } catch (e) {
        done(e as Error, undefined);
      }
    },
  );
}
