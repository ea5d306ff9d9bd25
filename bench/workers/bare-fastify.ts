import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';

/**
 * The limit for single-event ingest: Fastify with its own JSON parser, answering the same POST with a reply
 * of the same shape (the event plus an id), doing no validation and no write.
 */
async function main(): Promise<void> {
  const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  app.post('/audit/events', async (req, reply) => {
    reply.code(201);
    return { ...(req.body as Record<string, unknown>), id: randomUUID(), status: 'accepted' };
  });
  app.get('/health/ready', async () => ({ status: 'ok' }));
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
