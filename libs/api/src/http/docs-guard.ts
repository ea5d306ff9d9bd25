import { FastifyInstance } from 'fastify';
import { AuditError } from '@app/contracts';
import { Authenticator } from './authenticator';

/**
 * The OpenAPI routes (/docs, its assets, /docs/openapi.json) are registered by @nestjs/swagger straight on
 * Fastify, past Nest's guards: this hook applies the same Authenticator to them. Any valid key may read
 * the docs (they describe the API, not a tenant's data); anonymous loopback access reads them as before.
 */
export function guardDocs(fastify: FastifyInstance, auth: Authenticator): void {
  fastify.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (path !== '/docs' && !path.startsWith('/docs/') && !path.startsWith('/docs-')) return;
    try {
      await auth.authenticate(req, { kind: 'any-key' });
    } catch (e) {
      if (!(e instanceof AuditError)) throw e;
      return reply.code(e.status).headers(e.headers).send(e.toBody());
    }
  });
}
