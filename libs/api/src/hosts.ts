import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiKeyEntity, AUTH_MIGRATIONS } from '@app/auth';
import { ConfigError, VERSION as version } from '@app/common';
import { INGEST_PORT, IngestPort } from '@app/ingest';
import { createDataSource, pingDataSource } from '@app/persistence';
import {
  AppContext,
  Capability,
  Metrics,
  PortClient,
  requirePostgres,
  RunningApp,
  offPort,
  runService,
  selectCapabilities,
  startCapabilities,
  tcpClient,
} from '@app/runtime';
import { PortProvider } from './api.module';
import { prepareApiKeys, serveHttpApi } from './http-app';

export interface RunningApi extends RunningApp {
  app: NestFastifyApplication;
  url: string;
}

function urlOf(app: NestFastifyApplication, host: string, fallbackPort: number, https: boolean): string {
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : fallbackPort;
  return `${https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The ports of turned-off capabilities, each answering 404 capability_off. */
function offPorts(off: Capability[]): PortProvider[] {
  return off.flatMap((c) => (c.serves ?? []).map((port) => ({ token: port.token, implementation: offPort(port, c.name) })));
}

/** The HTTP server closes once: in `drain` on SIGTERM, or as a closer when start-up failed after it. */
function closeOnce(app: NestFastifyApplication): () => Promise<void> {
  let closed: Promise<void> | undefined;
  return () => (closed ??= app.close());
}

/**
 * The embedded default: every capability in one process, on the in-process event log, chdb and PGlite, with
 * all data under AUDIT_DATA_DIR. The same capabilities run as separate services in the distributed mode.
 */
export async function startEmbedded(context: AppContext, all: Capability[]): Promise<RunningApi> {
  const { config, logger, closers } = context;
  const { on: capabilities, off } = selectCapabilities(all, config.capabilitiesOff);
  if (config.kafka.kind !== 'embedded') {
    throw new ConfigError(
      'KAFKA_BROKERS',
      'must be unset for the all-in-one app, which runs on its embedded event log; run the distributed apps instead',
    );
  }
  const metrics = new Metrics();
  const started = await startCapabilities(context, capabilities, {
    mode: 'embedded',
    app: 'all-in-one',
    metrics,
    extraEntities: [ApiKeyEntity],
    extraMigrations: AUTH_MIGRATIONS,
  });
  const apiKeys = await prepareApiKeys(started.configStore as NonNullable<typeof started.configStore>, config);
  const app = await serveHttpApi(config, logger, {
    mode: 'embedded',
    ports: [...started.bindings.map((b) => ({ token: b.port.token, implementation: b.implementation })), ...offPorts(off)],
    // A turned-off capability's routes stay mounted: they answer 404 capability_off (offPort).
    controllers: all.flatMap((c) => (c.controllers ?? []) as never[]),
    apiKeys,
    metrics,
    readiness: started.readiness,
    describe: {
      data_dir: config.dataDir,
      capabilities: capabilities.map((c) => c.name),
      capabilities_off: off.map((c) => c.name),
      event_log: { kind: 'embedded', fsync: config.kafka.fsync, hot_window_days: config.kafka.hotWindowMs / 86_400_000 },
      query_store: { kind: config.clickhouse.kind },
      config_store: { kind: config.postgres.kind },
    },
  });
  const closeHttp = closeOnce(app);
  closers.add('http', closeHttp);
  await started.afterStart();
  const url = urlOf(app, config.http.host, config.http.port, config.http.tls !== undefined);
  const ingest = started.bindings.find((b) => b.port.token === INGEST_PORT)?.implementation as IngestPort;
  await ingest.ingest({
    events: [
      {
        event_type: 'system_startup',
        description: `HOMEPOT Audit ${version} started (embedded)`,
        source: 'homepot-audit',
        metadata: { version, mode: 'embedded' },
      },
    ],
    batch: false,
    tenantId: config.defaultTenant,
  });
  return {
    app,
    url,
    describe: { url, docs: `${url}/docs`, data_dir: config.dataDir },
    drain: async () => {
      // Stop taking requests and answer those in hand; then record the shutdown and publish what is queued.
      await closeHttp();
      await ingest
        .ingest({
          events: [{ event_type: 'system_shutdown', description: 'HOMEPOT Audit stopping', source: 'homepot-audit' }],
          batch: false,
          tenantId: config.defaultTenant,
        })
        .catch(() => undefined);
      await started.drain();
    },
  };
}

/**
 * The one public HTTP entry of the distributed mode: authentication, validation, OpenAPI. It reaches each
 * capability's service over TCP and never touches their stores; its own store is the API keys in Postgres.
 * Its readiness is its own (the config store): a service that is down shows in /audit/status and answers 503
 * on the requests that need it, but does not take every gateway out of its Service.
 */
export async function startGateway(context: AppContext, all: Capability[]): Promise<RunningApi> {
  const { config, logger, closers } = context;
  const { on: capabilities, off } = selectCapabilities(all, config.capabilitiesOff);
  const ds = await createDataSource({
    target: requirePostgres(config, 'api-gateway'),
    entities: [ApiKeyEntity],
    migrations: AUTH_MIGRATIONS,
  });
  closers.add('postgres', () => ds.destroy());
  const apiKeys = await prepareApiKeys(ds, config);
  const ports: PortProvider[] = [];
  const readiness = [{ name: 'config_store', check: async () => ({ ok: await pingDataSource(ds) }) }];
  const services: Record<string, unknown> = {};
  for (const capability of capabilities) {
    for (const served of capability.serves ?? []) {
      const address = served.address.parse(context.env);
      const client: PortClient<{ health?: () => Promise<{ ok: boolean }> }> = tcpClient(served, address);
      closers.add(`${served.service}-client`, () => client.close());
      ports.push({ token: served.token, implementation: client });
      const name = served.service.replace(/-/g, '_');
      services[name] = address;
      const health = client.health;
      if (health) readiness.push({ name, check: () => health(), required: false } as never);
    }
  }
  ports.push(...offPorts(off));
  const app = await serveHttpApi(config, logger, {
    mode: 'distributed',
    ports,
    controllers: all.flatMap((c) => (c.controllers ?? []) as never[]),
    apiKeys,
    metrics: new Metrics(),
    readiness,
    describe: {
      event_log: { kind: 'kafka' },
      services,
      config_store: { kind: 'pg' },
      capabilities: capabilities.map((c) => c.name),
      capabilities_off: off.map((c) => c.name),
    },
  });
  const closeHttp = closeOnce(app);
  closers.add('http', closeHttp);
  const url = urlOf(app, config.http.host, config.http.port, config.http.tls !== undefined);
  // The TCP clients close after the HTTP server has answered the requests in hand (closers run in reverse).
  return { app, url, describe: { version, url, services }, drain: closeHttp };
}

/** The all-in-one's main.ts: `runEmbedded([...every capability])`. */
export function runEmbedded(capabilities: Capability[]): void {
  runService('all-in-one', (context) => startEmbedded(context, capabilities));
}

/** The api-gateway's main.ts: `runGateway([...the capabilities it fronts])`. */
export function runGateway(capabilities: Capability[]): void {
  runService('api-gateway', (context) => startGateway(context, capabilities));
}
