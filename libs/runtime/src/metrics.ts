import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TOPIC_EVENTS_DLQ } from '@app/contracts';

/** Buckets of the duration histograms, in seconds: 5 ms to 10 s. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Prometheus metrics, named audit_<name>_<unit>; one registry per process. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'audit_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly eventsIngested = new Counter({
    name: 'audit_events_ingested_total',
    help: 'Events by ingest outcome',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly consumerRows = new Counter({
    name: 'audit_consumer_rows_total',
    help: 'Rows written, rejected to the DLQ, or dropped as duplicates by the query-store consumer',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly storeInsertRows = new Histogram({
    name: 'audit_store_insert_rows',
    help: 'Rows per insert into the query store (one insert may hold several consumed batches)',
    buckets: [10, 100, 1000, 5000, 10_000, 20_000, 50_000],
    registers: [this.registry],
  });
  readonly storeInsertSeconds = new Histogram({
    name: 'audit_store_insert_duration_seconds',
    help: 'Time of one insert into the query store, with its progress record',
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });
  readonly rollupRebuiltBuckets = new Counter({
    name: 'audit_store_rollup_rebuilt_buckets_total',
    help: 'Hours (events_hourly) and days (events_daily_keys) of the statistics roll-ups rebuilt because they disagreed with the stored events (after a crash or a failed insert)',
    labelNames: ['rollup'],
    registers: [this.registry],
  });
  readonly storeRowsRefused = new Counter({
    name: 'audit_store_rows_refused_total',
    help: 'Rows the query store refused for their data (by ClickHouse error name), sent to audit.events.dlq.v1 while the rest of their insert was stored',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly streamClients = new Gauge({ name: 'audit_stream_clients', help: 'Open SSE streams', registers: [this.registry] });
  readonly streamsDropped = new Counter({
    name: 'audit_stream_dropped_total',
    help: 'SSE streams closed because the client left its socket full for AUDIT_STREAM_STALL_TIMEOUT_MS',
    registers: [this.registry],
  });
  readonly queryGate = new Counter({
    name: 'audit_query_gate_total',
    help: 'Store queries from the HTTP API by outcome: run, queued, refused (503, the queue was full), cancelled (the client left while it waited)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly tlsReloads = new Counter({
    name: 'audit_tls_reloads_total',
    help: 'HTTPS certificate files that changed on disk: reloaded, or failed (the previous certificate is still served)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly tlsCertificateExpiry = new Gauge({
    name: 'audit_tls_certificate_expiry_timestamp_seconds',
    help: 'When the certificate the HTTPS listener serves expires (Unix time)',
    registers: [this.registry],
  });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'audit_process_' });
  }

  /** The query-store consumer's counters; with a logger, what an operator should see is also logged. */
  consumerMetrics(logger?: Logger): {
    onBatch(rows: number, rejected: number, duplicates: number, ms: number): void;
    onError(): void;
    onInsert(rows: number, ms: number): void;
    onRollupRepaired(buckets: Array<{ rollup: string }>): void;
    onStoreRefused(refused: Array<{ code: string; reason: string }>): void;
  } {
    return {
      onBatch: (rows, rejected, duplicates) => {
        this.consumerRows.inc({ outcome: 'written' }, rows);
        if (rejected) {
          this.consumerRows.inc({ outcome: 'dlq' }, rejected);
          logger?.warn({ rejected }, `invalid records moved to the dead-letter topic ${TOPIC_EVENTS_DLQ}`);
        }
        if (duplicates) this.consumerRows.inc({ outcome: 'duplicate' }, duplicates);
      },
      // Failed batches are counted by the consumer host (audit_consumer_batches_total{outcome="failed"}).
      onError: () => undefined,
      onInsert: (rows, ms) => {
        this.storeInsertRows.observe(rows);
        this.storeInsertSeconds.observe(ms / 1000);
      },
      onRollupRepaired: (buckets) => {
        for (const b of buckets) this.rollupRebuiltBuckets.inc({ rollup: b.rollup });
        logger?.warn(
          { buckets: buckets.slice(0, 20), count: buckets.length },
          'statistics roll-up rebuilt where it disagreed with the stored events',
        );
      },
      onStoreRefused: (refused) => {
        for (const r of refused) this.storeRowsRefused.inc({ code: r.code });
        logger?.warn(
          { refused: refused.length, code: refused[0]?.code, reason: refused[0]?.reason.slice(0, 500) },
          'rows refused by the query store moved to the dead-letter topic audit.events.dlq.v1',
        );
      },
    };
  }
}
