import 'reflect-metadata';
import { ApiKeyEntity, AUTH_MIGRATIONS } from '@app/auth';
import { VERSION } from '@app/common';
import { Closers, Metrics, prepareApiKeys, requirePostgres, runService, serveHttpApi, TcpIngest, TcpQuery } from '@app/api';
import { createDataSource, pingDataSource } from '@app/persistence';

/**
 * The one public HTTP entry: authentication, validation, OpenAPI. It reaches the ingest-gateway and the
 * query-store over TCP and never touches their stores; its own store is the API keys in Postgres.
 */
runService('api-gateway', async (config, logger) => {
  const pg = requirePostgres(config, 'api-gateway');
  const closers = new Closers(logger);
  try {
    const ds = await createDataSource({ target: pg, entities: [ApiKeyEntity], migrations: AUTH_MIGRATIONS });
    closers.add('postgres', () => ds.destroy());
    const apiKeys = await prepareApiKeys(ds, config);

    const ingest = new TcpIngest(config.services.ingest);
    closers.add('ingest-client', () => ingest.close());
    const query = new TcpQuery(config.services.query);
    closers.add('query-client', () => query.close());

    const app = await serveHttpApi(config, logger, {
      mode: 'distributed',
      ingest,
      query,
      apiKeys,
      metrics: new Metrics(),
      readiness: [
        { name: 'ingest_gateway', check: () => ingest.health() },
        { name: 'query_store', check: () => query.health() },
        { name: 'config_store', check: async () => ({ ok: await pingDataSource(ds) }) },
      ],
      describe: {
        event_log: { kind: 'kafka' },
        services: { ingest_gateway: config.services.ingest, query_store: config.services.query },
        config_store: { kind: 'pg' },
      },
    });
    closers.add('http', () => app.close());
    return {
      close: () => closers.closeAll(),
      describe: { version: VERSION, url: await app.getUrl(), ingest_gateway: config.services.ingest, query_store: config.services.query },
    };
  } catch (e) {
    await closers.closeAll();
    throw e;
  }
});
