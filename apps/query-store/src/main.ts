import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { VERSION } from '@app/common';
import { Closers, LocalQuery, Metrics, QUERY_PORT, QueryRpcController, requireKafka, runService, startServiceEndpoints } from '@app/api';
import { KafkaBus } from '@app/event-bus';
import { createClickHouse, EventStoreRepository, migrateClickHouse, QueryStoreConsumer, releaseChdb, WorkerProjector } from '@app/query';

/**
 * Projects audit.events.v1 into ClickHouse (a server over CLICKHOUSE_URL, else chdb under AUDIT_DATA_DIR)
 * and answers the API gateway's queries over TCP. Offsets are committed only after the insert.
 */
runService('query-store', async (config, logger, context) => {
  const kafka = requireKafka(config, 'query-store');
  const closers = new Closers(logger);
  try {
    const metrics = new Metrics();
    if (config.clickhouse.kind === 'chdb') mkdirSync(config.dataDir, { recursive: true });
    const ch = await createClickHouse(config.clickhouse);
    closers.add('clickhouse', async () => {
      await ch.close();
      await releaseChdb();
    });
    await migrateClickHouse(ch);
    const store = new EventStoreRepository(ch);

    const bus = new KafkaBus({
      ...kafka,
      maxBatchRecords: config.batching.maxEvents,
      logger,
      onHandlerError: (group, error, attempt, delayMs) =>
        logger.warn(
          { group, attempt, retry_in_ms: delayMs, err: (error as Error).message },
          'consumer batch failed; the partition is paused and retried after back-off',
        ),
      onConsumerFatal: (group, error) => context.fail(`the Kafka consumer of ${group} stopped for good`, error),
    });
    closers.add('kafka', () => bus.close());
    await bus.connect();
    await bus.ensureTopics();

    const consumer = new QueryStoreConsumer(bus, store, config.defaultTenant, metrics.consumerMetrics(logger), new WorkerProjector());
    const query = new LocalQuery(store, consumer);

    const { healthPort } = await startServiceEndpoints(
      {
        service: 'query-store',
        ...config.services.query,
        logger,
        controllers: [QueryRpcController],
        providers: [{ provide: QUERY_PORT, useValue: query }],
        health: {
          host: config.http.host,
          port: config.healthPort,
          metrics,
          checks: [
            { name: 'query_store', check: () => query.health() },
            { name: 'event_log', check: () => bus.health() },
          ],
        },
      },
      closers,
    );
    // Joining the group can take up to the session timeout (30 s) when a crashed member still holds the
    // partitions; queries are served meanwhile, which is why the servers start first.
    await consumer.start();
    closers.add('consumer', () => consumer.stop());
    return {
      close: () => closers.closeAll(),
      describe: {
        version: VERSION,
        rpc: config.services.query,
        health_port: healthPort,
        clickhouse: config.clickhouse.kind,
        brokers: kafka.brokers,
      },
    };
  } catch (e) {
    await closers.closeAll();
    throw e;
  }
});
