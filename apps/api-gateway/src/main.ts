import 'reflect-metadata';
import { ApiKeyEntity, ApiKeyService, AUTH_MIGRATIONS } from '@app/auth';
import { isLoopback, VERSION } from '@app/common';
import { Closers, Metrics, requirePostgres, runService, startHttpApi, TcpIngest, TcpQuery } from '@app/api';
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
    const apiKeys = new ApiKeyService(ds);
    if (config.auth.bootstrapKey) await apiKeys.ensureBootstrapKey(config.auth.bootstrapKey, config.defaultTenant);
    const loopback = isLoopback(config.http.host);
    if (!loopback && !(await apiKeys.hasAnyKey())) {
      throw new Error(
        `refusing to listen on ${config.http.host} without API keys: set AUDIT_BOOTSTRAP_API_KEY (e.g. openssl rand -hex 24)`,
      );
    }

    const ingest = new TcpIngest(config.services.ingest);
    closers.add('ingest-client', () => ingest.close());
    const query = new TcpQuery(config.services.query);
    closers.add('query-client', () => query.close());

    const anonymous = loopback && config.auth.allowAnonymousOnLoopback;
    const app = await startHttpApi(
      {
        ingest,
        query,
        apiKeys,
        metrics: new Metrics(),
        readiness: [
          { name: 'ingest_gateway', check: () => ingest.health() },
          { name: 'query_store', check: () => query.health() },
          { name: 'config_store', check: async () => ({ ok: await pingDataSource(ds) }) },
        ],
        publicConfig: {
          mode: 'distributed',
          version: VERSION,
          event_log: { kind: 'kafka' },
          services: { ingest_gateway: config.services.ingest, query_store: config.services.query },
          config_store: { kind: 'pg' },
          batching: { max_events: config.batching.maxEvents, produce_linger_ms: config.batching.produceLingerMs },
          authentication: { anonymous_on_loopback: anonymous, api_keys_configured: await apiKeys.hasAnyKey() },
          self_audit: { reads: config.selfAuditReads, denials: true },
          max_body_bytes: config.http.bodyLimitBytes,
        },
        auth: { anonymousAllowed: anonymous, defaultTenant: config.defaultTenant, rateLimitPerMinute: config.rateLimitPerMinute },
        stream: { pollMs: 250, heartbeatMs: 15_000 },
        selfAuditReads: config.selfAuditReads,
      },
      {
        host: config.http.host,
        port: config.http.port,
        bodyLimitBytes: config.http.bodyLimitBytes,
        trustProxy: config.http.trustProxy,
        logger,
        title: 'HOMEPOT Audit',
      },
    );
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
