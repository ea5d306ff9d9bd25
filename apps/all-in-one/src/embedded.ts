import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'pino';
import { ApiKeyEntity, AUTH_MIGRATIONS } from '@app/auth';
import { AppConfig, ConfigError, VERSION as version } from '@app/common';
import { EMBEDDED_LOG_RETENTION_HOURS, EventBus, FileLogBus } from '@app/event-bus';
import { INGEST_MIGRATIONS } from '@app/ingest';
import { createDataSource, pingDataSource } from '@app/persistence';
import { createClickHouse, EventStoreRepository, migrateClickHouse, QueryStoreConsumer, releaseChdb, WorkerProjector } from '@app/query';
import { Closers, LocalIngest, LocalQuery, Metrics, prepareApiKeys, serveHttpApi } from '@app/api';

export interface RunningService {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

/**
 * The embedded default: every capability in one process, on the in-process event log, chdb and PGlite,
 * with all data under AUDIT_DATA_DIR. The same libraries run as separate services in the distributed mode.
 */
export async function startEmbedded(config: AppConfig, logger: Logger): Promise<RunningService> {
  if (config.kafka.kind !== 'embedded') {
    throw new ConfigError(
      'KAFKA_BROKERS',
      'must be unset for the all-in-one app, which runs on its embedded event log; run the distributed apps instead',
    );
  }
  mkdirSync(config.dataDir, { recursive: true });
  const metrics = new Metrics();
  const closers = new Closers(logger);
  try {
    const ds = await createDataSource({
      target: config.postgres,
      entities: [ApiKeyEntity],
      migrations: [...AUTH_MIGRATIONS, ...INGEST_MIGRATIONS],
    });
    closers.add('config-store', () => ds.destroy());
    const apiKeys = await prepareApiKeys(ds, config);

    const bus: EventBus = new FileLogBus({
      dir: path.join(config.dataDir, 'log'),
      fsync: config.kafka.fsync,
      segmentBytes: 128 * 1024 * 1024,
      maxBatchRecords: config.batching.maxEvents,
      batchIntervalMs: config.batching.intervalMs,
      retentionMs: EMBEDDED_LOG_RETENTION_HOURS * 3_600_000,
      onHandlerError: (group, error, attempt) =>
        logger.warn({ group, attempt, err: (error as Error).message }, 'consumer batch failed; retrying after back-off'),
    });
    closers.add('event-log', () => bus.close());

    const ch = await createClickHouse(config.clickhouse);
    closers.add('query-store', async () => {
      await ch.close();
      await releaseChdb();
    });
    await migrateClickHouse(ch);
    const store = new EventStoreRepository(ch);
    const consumer = new QueryStoreConsumer(bus, store, config.defaultTenant, metrics.consumerMetrics(logger), new WorkerProjector());
    await consumer.start();
    closers.add('consumer', () => consumer.stop());

    const ingest = LocalIngest.create(bus, ds, config.batching.produceLingerMs, (drain) => closers.add('publisher', drain));
    const query = new LocalQuery(store, consumer);

    const app = await serveHttpApi(config, logger, {
      mode: 'embedded',
      ingest,
      query,
      apiKeys,
      metrics,
      readiness: [
        { name: 'event_log', check: () => ingest.health() },
        { name: 'query_store', check: () => query.health() },
        { name: 'config_store', check: async () => ({ ok: await pingDataSource(ds) }) },
      ],
      describe: {
        data_dir: config.dataDir,
        event_log: { kind: 'embedded', fsync: config.kafka.fsync, retention_hours: EMBEDDED_LOG_RETENTION_HOURS },
        query_store: { kind: config.clickhouse.kind },
        config_store: { kind: config.postgres.kind },
      },
    });
    closers.add('http', () => app.close());
    const address = app.getHttpServer().address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const url = `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${port}`;
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
      close: async () => {
        await ingest
          .ingest({
            events: [{ event_type: 'system_shutdown', description: 'HOMEPOT Audit stopping', source: 'homepot-audit' }],
            batch: false,
            tenantId: config.defaultTenant,
          })
          .catch(() => undefined);
        await closers.closeAll();
      },
    };
  } catch (e) {
    await closers.closeAll();
    throw e;
  }
}
