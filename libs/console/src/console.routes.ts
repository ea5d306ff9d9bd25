import { FastifyInstance, FastifyReply } from 'fastify';
import { ConsoleFile, loadConsoleFiles } from './console-assets';

/**
 * No inline script or style anywhere: scripts and styles only from this origin, data only from this origin
 * (the API), no frames, no plugins, no base-URI tricks, forms only here.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const YEAR = 31_536_000;

function send(reply: FastifyReply, file: ConsoleFile): FastifyReply {
  return reply
    .code(200)
    .header('content-type', file.contentType)
    .header('cache-control', file.immutable ? `public, max-age=${YEAR}, immutable` : 'no-cache')
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(file.body);
}

/**
 * The web console on the public HTTP server, embedded and gateway alike: the page at `/` and `/console/`,
 * its modules and the vendored libraries under `/console/*`. The files are static and hold no data, so they
 * are served without a key; every call the page makes to /audit carries the key the user signed in with,
 * and is authenticated and audited like any other client's.
 */
export function mountConsole(fastify: FastifyInstance, files: Map<string, ConsoleFile> = loadConsoleFiles()): void {
  const index = files.get('/console/index.html');
  if (!index) throw new Error('the console has no index.html');
  const page = (_req: unknown, reply: FastifyReply) => send(reply, index);
  fastify.get('/', page);
  fastify.get('/console', (_req, reply) => reply.redirect('/console/', 302));
  fastify.get('/console/', page);
  fastify.get('/console/*', (req, reply) => {
    const file = files.get(req.url.split('?')[0]);
    if (!file) {
      return reply
        .code(404)
        .header('content-type', 'application/json; charset=utf-8')
        .send({ error: { code: 'not_found', message: 'no such console file', details: [] } });
    }
    return send(reply, file);
  });
}
