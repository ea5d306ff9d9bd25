import { CONSUMER_GROUP_QUERY_STORE } from '@app/contracts';
import { EventBus, KafkaBus } from '@app/event-bus';
import { Capability, ComponentHealth, ReadinessCheck } from '@app/runtime';
import { BatchingPublisher } from './batching-publisher';
import { IdempotencyRepository, INGEST_MIGRATIONS } from './idempotency';
import { INGEST_PORT_DEFINITION, IngestPort } from './ingest.port';
import { ExpiredIdempotencyKeys, IngestRequest, IngestResponse, IngestService } from './ingest.service';

/** Ingest in-process: the embedded app, and the ingest-gateway's own handlers. */
export class LocalIngest implements IngestPort {
  constructor(
    private readonly service: IngestService,
    private readonly bus: EventBus,
  ) {}

  ingest(request: IngestRequest): Promise<IngestResponse> {
    return this.service.ingest(request);
  }

  expireIdempotencyKeys(apply: boolean): Promise<ExpiredIdempotencyKeys> {
    return this.service.expiredIdempotencyKeys(apply);
  }

  async health(): Promise<ComponentHealth> {
    const h = await this.bus.health();
    return { ok: h.ok, detail: h.detail };
  }
}

/**
 * Validation, enrichment, idempotency keys (in the configuration store) and the batching publisher onto the
 * event log. In the distributed mode it is the ingest-gateway, answering the API gateway only after acks=-1.
 */
export const INGEST_CAPABILITY: Capability = {
  name: 'ingest',
  core: true,
  migrations: INGEST_MIGRATIONS,
  needs: { bus: true, configStore: true },
  serves: [INGEST_PORT_DEFINITION],
  async start(context) {
    const bus = context.bus();
    const readiness: ReadinessCheck[] = [{ name: 'event_log', check: () => ingest.health() }];
    // The log keeps its hot window and what every registered group has not processed (docs/architecture.md,
    // "System of record"); on Kafka the ingest-gateway trims the rest. Safe with every replica doing it.
    if (bus instanceof KafkaBus && context.config.kafka.kind === 'kafka') {
      const trimmer = bus.logTrimmer([CONSUMER_GROUP_QUERY_STORE, ...context.config.kafka.registeredGroups]);
      trimmer.start();
      context.closers.add('log-trimmer', () => trimmer.stop());
      readiness.push({ name: 'log_trim', required: false, check: async () => ({ ok: true, detail: trimmer.status() }) });
    }
    const publisher = new BatchingPublisher(bus, {
      lingerMs: context.config.batching.produceLingerMs,
      maxBatchRecords: 5000,
      maxQueuedRecords: 200_000,
    });
    const service = new IngestService(publisher, new IdempotencyRepository(context.configStore()));
    const ingest = new LocalIngest(service, bus);
    return {
      bindings: [{ port: INGEST_PORT_DEFINITION, implementation: ingest }],
      readiness,
      describe: { produce_linger_ms: context.config.batching.produceLingerMs },
      // Requests in hand were answered first (the host drains them); what they queued is published here.
      drain: async () => {
        await publisher.drain();
        await service.close();
      },
    };
  },
};
