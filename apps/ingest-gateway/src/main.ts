import 'reflect-metadata';
import { VERSION } from '@app/common';
import {
  Closers,
  INGEST_PORT,
  IngestRpcController,
  LocalIngest,
  Metrics,
  requireKafka,
  requirePostgres,
  runService,
  startServiceEndpoints,
} from '@app/api';
import { KafkaBus } from '@app/event-bus';
import { INGEST_MIGRATIONS } from '@app/ingest';
import { createDataSource, pingDataSource } from '@app/persistence';

/**
 * Validates and enriches events from the API gateway (TCP) and publishes them to Kafka, answering only after
 * acks=-1. Concurrent requests share one produce call (BatchingPublisher). Idempotency keys live in Postgres.
 */
runService('ingest-gateway', async (config, logger) => {
  const kafka = requireKafka(config, 'ingest-gateway');
  const pg = requirePostgres(config, 'ingest-gateway');
  const closers = new Closers(logger);
  try {
    const metrics = new Metrics();
    const ds = await createDataSource({ target: pg, entities: [], migrations: INGEST_MIGRATIONS });
    closers.add('postgres', () => ds.destroy());

    const bus = new KafkaBus({ ...kafka, maxBatchRecords: config.batching.maxEvents, logger });
    closers.add('kafka', () => bus.close());
    await bus.connect();
    await bus.ensureTopics();

    const ingest = LocalIngest.create(bus, ds, config.batching.produceLingerMs, (drain) => closers.add('publisher', drain));

    const { healthPort } = await startServiceEndpoints(
      {
        service: 'ingest-gateway',
        ...config.services.ingest,
        logger,
        controllers: [IngestRpcController],
        providers: [{ provide: INGEST_PORT, useValue: ingest }],
        health: {
          host: config.http.host,
          port: config.healthPort,
          metrics,
          checks: [
            { name: 'event_log', check: () => ingest.health() },
            { name: 'config_store', check: async () => ({ ok: await pingDataSource(ds) }) },
          ],
        },
      },
      closers,
    );
    return {
      close: () => closers.closeAll(),
      describe: { version: VERSION, rpc: config.services.ingest, health_port: healthPort, brokers: kafka.brokers },
    };
  } catch (e) {
    await closers.closeAll();
    throw e;
  }
});
