import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'pino';
import { ApiKeyEntity, ApiKeyService, AUTH_MIGRATIONS } from '@app/auth';
import { AppConfig, isLoopback, VERSION as version } from '@app/common';
import { EventBus, FileLogBus } from '@app/event-bus';
import { BatchingPublisher, IdempotencyRepository, INGEST_MIGRATIONS, IngestService } from '@app/ingest';
import { createDataSource, pingDataSource } from '@app/persistence';
import { createClickHouse, EventStoreRepository, migrateClickHouse, QueryStoreConsumer, releaseChdb } from '@app/query';
import { LocalIngest, LocalQuery, Metrics, startHttpApi } from '@app/api';

export interface RunningService {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

export class StartupError extends Error {}

/**
 * The embedded default: every capability in one process, on the in-process event log, chdb and PGlite,
 * with all data under AUDIT_DATA_DIR. The same libraries run as separate services in the distributed mode.
 */
export async function startEmbedded(config: AppConfig, logger: Logger): Promise<RunningService> {
  if (config.kafka.kind !== 'embedded')
    throw new StartupError('the all-in-one app runs on its embedded event log; unset KAFKA_BROKERS or run the distributed apps');
  mkdirSync(config.dataDir, { recursive: true });
  const metrics = new Metrics();
  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (e) {
        logger.warn({ err: e }, 'error while shutting down');
      }
    }
  };
  try {
    const ds = await createDataSource({
      target: config.postgres,
      entities: [ApiKeyEntity],
      migrations: [...AUTH_MIGRATIONS, ...INGEST_MIGRATIONS],
    });
    closers.push(() => ds.destroy());
    const apiKeys = new ApiKeyService(ds);
    if (config.auth.bootstrapKey) await apiKeys.ensureBootstrapKey(config.auth.bootstrapKey, config.defaultTenant);
    const loopback = isLoopback(config.http.host);
    if (!loopback && !(await apiKeys.hasAnyKey())) {
      throw new StartupError(
        `refusing to listen on ${config.http.host} without API keys: set AUDIT_BOOTSTRAP_API_KEY (e.g. openssl rand -hex 24) or listen on 127.0.0.1`,
      );
    }

    const bus: EventBus = new FileLogBus({
      dir: path.join(config.dataDir, 'log'),
      fsync: config.kafka.fsync,
      segmentBytes: 128 * 1024 * 1024,
      maxBatchRecords: config.batching.maxEvents,
      batchIntervalMs: config.batching.intervalMs,
      retentionMs: 7 * 24 * 3600 * 1000,
      onHandlerError: (group, error, attempt) =>
        logger.warn({ group, attempt, err: (error as Error).message }, 'consumer batch failed; retrying after back-off'),
    });
    closers.push(() => bus.close());

    const ch = await createClickHouse(config.clickhouse);
    closers.push(async () => {
      await ch.close();
      await releaseChdb();
    });
    await migrateClickHouse(ch);
    const store = new EventStoreRepository(ch);
    const counters = metrics.consumerMetrics();
    const consumer = new QueryStoreConsumer(bus, store, config.defaultTenant, {
      ...counters,
      onBatch: (rows, rejected, duplicates, ms) => {
        counters.onBatch(rows, rejected, duplicates, ms);
        if (rejected > 0) logger.warn({ rejected }, 'invalid records moved to the dead-letter topic audit.events.dlq.v1');
      },
    });
    await consumer.start();
    closers.push(() => consumer.stop());

    const publisher = new BatchingPublisher(bus, {
      lingerMs: config.batching.produceLingerMs,
      maxBatchRecords: 5000,
      maxQueuedRecords: 200_000,
    });
    closers.push(() => publisher.drain());
    const ingest = new LocalIngest(new IngestService(publisher, new IdempotencyRepository(ds)), bus);
    const query = new LocalQuery(store, consumer);

    const app = await startHttpApi(
      {
        ingest,
        query,
        apiKeys,
        metrics,
        readiness: [
          { name: 'event_log', check: () => ingest.health() },
          { name: 'query_store', check: () => query.health() },
          { name: 'config_store', check: async () => ({ ok: await pingDataSource(ds) }) },
        ],
        publicConfig: {
          mode: 'embedded',
          version,
          data_dir: config.dataDir,
          event_log: { kind: 'embedded', fsync: config.kafka.fsync, retention_hours: 168 },
          query_store: { kind: config.clickhouse.kind },
          config_store: { kind: config.postgres.kind },
          batching: {
            max_events: config.batching.maxEvents,
            interval_ms: config.batching.intervalMs,
            produce_linger_ms: config.batching.produceLingerMs,
          },
          authentication: {
            anonymous_on_loopback: loopback && config.auth.allowAnonymousOnLoopback,
            api_keys_configured: await apiKeys.hasAnyKey(),
          },
          self_audit: { reads: config.selfAuditReads, denials: true },
          max_body_bytes: config.http.bodyLimitBytes,
        },
        auth: {
          anonymousAllowed: loopback && config.auth.allowAnonymousOnLoopback,
          defaultTenant: config.defaultTenant,
          rateLimitPerMinute: config.rateLimitPerMinute,
        },
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
    closers.push(() => app.close());
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
        await closeAll();
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
