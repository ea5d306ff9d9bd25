import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { CONSUMER_GROUP_QUERY_STORE } from '@app/contracts';
import { Capability } from '@app/runtime';
import { createClickHouse, migrateClickHouse, releaseChdb } from './clickhouse/clickhouse.factory';
import { EventStoreRepository } from './event-store.repository';
import { LocalQuery } from './local-query';
import { WorkerProjector } from './projector-pool';
import { QUERY_CONFIG } from './query.config';
import { QUERY_PORT_DEFINITION } from './query.port';
import { QueryStoreConsumer } from './query-store.consumer';

/**
 * The ClickHouse query store: projects audit.events.v1 (its consumer group) and answers search, statistics
 * and the stream's tail. ClickHouse is a server over CLICKHOUSE_URL, else chdb under AUDIT_DATA_DIR.
 */
export const QUERY_CAPABILITY: Capability = {
  name: 'query',
  core: true,
  needs: { bus: true },
  config: [QUERY_CONFIG],
  serves: [QUERY_PORT_DEFINITION],
  async start(context) {
    const { config, closers, metrics, logger } = context;
    if (config.clickhouse.kind === 'chdb') mkdirSync(config.dataDir, { recursive: true });
    const ch = await createClickHouse(config.clickhouse);
    closers.add('query-store', async () => {
      await ch.close();
      await releaseChdb();
    });
    await migrateClickHouse(ch);
    const store = new EventStoreRepository(ch, { queryTimeoutSeconds: context.settings(QUERY_CONFIG).queryTimeoutSeconds });
    const bus = context.bus();
    const consumers = context.consumers();
    const consumer = new QueryStoreConsumer(
      store,
      { defaultTenant: config.defaultTenant, trust: consumers.trust },
      metrics.consumerMetrics(logger),
      new WorkerProjector(),
    );
    consumers.declare(consumer.declaration());
    closers.add('projector', () => consumer.close());
    const operations = store.operations({
      logDir: context.mode === 'embedded' ? path.join(config.dataDir, 'log') : undefined,
      hotWindowMs: config.kafka.hotWindowMs,
      lag: () => consumers.lag(),
    });
    const query = new LocalQuery(store, consumer, bus, {
      performance: () => operations.performance(),
      // chdb: this process is the store's only writer, the condition of the roll-up reconcile.
      optimize: (apply) => operations.optimize(apply, store.inProcess, () => store.reconcileRollup()),
    });
    return {
      bindings: [{ port: QUERY_PORT_DEFINITION, implementation: query }],
      readiness: [
        { name: 'query_store', check: () => query.health() },
        // The embedded log is this process's own; Kafka is not: queries are answered while it is away.
        ...(context.mode === 'distributed' ? [{ name: 'event_log', check: () => bus.health(), required: false }] : []),
      ],
      describe: { clickhouse: config.clickhouse.kind },
      // Joining the group can take up to the session timeout (30 s) when a crashed member still holds the
      // partitions; queries are served meanwhile, which is why the host starts the servers first.
      afterStart: async () => {
        await consumer.recover();
        await consumers.start(CONSUMER_GROUP_QUERY_STORE);
      },
    };
  },
};
