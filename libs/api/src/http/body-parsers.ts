import { FastifyInstance, FastifyRequest } from 'fastify';
import { isUtf8 } from 'node:buffer';
import { AuditError, checkJsonStructure, ErrorCode } from '@app/contracts';
import { registerContentDecoding } from './content-encoding';

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

/** Refuses what JSON.parse accepted silently: a duplicated key, or nesting deep enough to break recursive code. */
function checkStructure(text: string, parsed: unknown, prefix = '', where = ''): void {
  const problem = checkJsonStructure(text, parsed);
  if (problem) throw invalidJson(`${where}${problem.message}`, `${prefix}${problem.pointer}`);
}

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw invalidJson('the body is empty; send a JSON object or array');
  let parsed: unknown;
  let source = text;
  try {
    parsed = JSON.parse(text);
  } catch (first) {
    if (!text.includes('/')) throw invalidJson(`the body is not valid JSON: ${(first as Error).message}`);
    try {
      source = stripJsonComments(text);
      parsed = JSON.parse(source);
    } catch {
      // the original error points at the real problem
      throw invalidJson(`the body is not valid JSON: ${(first as Error).message}`);
    }
  }
  // JSON.parse is iterative, so it survives any depth; the check runs before anything recursive does.
  checkStructure(source, parsed);
  return parsed;
}

/** Decodes a body as UTF-8, refusing bytes that are not: they would otherwise become U+FFFD silently. */
export function decodeUtf8Body(body: Buffer): string {
  if (!isUtf8(body)) throw invalidJson('the body is not valid UTF-8; send JSON encoded as UTF-8');
  return body.toString('utf8');
}

/** NDJSON: one event per non-blank line; an error names the line. */
export function parseNdjsonBody(text: string): unknown[] {
  const out: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      throw invalidJson(`line ${i + 1} is not valid JSON: ${(e as Error).message}`, `line ${i + 1}`);
    }
    checkStructure(line, parsed, `line ${i + 1}`, `line ${i + 1}: `);
    out.push(parsed);
  }
  if (out.length === 0) throw invalidJson('the body holds no events');
  return out;
}

export const NDJSON_MARK = Symbol('ndjson');

export function registerBodyParsers(fastify: FastifyInstance, bodyLimit: number): void {
  registerContentDecoding(fastify, bodyLimit);
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  fastify.addContentTypeParser(
    ['application/json', 'text/plain'],
    { parseAs: 'buffer', bodyLimit },
    (_req: FastifyRequest, body: string | Buffer, done) => {
      try {
        done(null, parseJsonBody(decodeUtf8Body(body as Buffer)));
      } catch (e) {
        done(e as Error, undefined);
      }
    },
  );
  fastify.addContentTypeParser(
    ['application/x-ndjson', 'application/jsonl', 'application/ndjson'],
    { parseAs: 'buffer', bodyLimit },
    (_req: FastifyRequest, body: string | Buffer, done) => {
      try {
        const events = parseNdjsonBody(decodeUtf8Body(body as Buffer));
        Object.defineProperty(events, NDJSON_MARK, { value: true });
        done(null, events);
      } catch (e) {
        done(e as Error, undefined);
      }
    },
  );
}
