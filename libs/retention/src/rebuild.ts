import { performance } from 'node:perf_hooks';
import { TOPIC_EVENTS } from '@app/contracts';
import { BusBatch, EventBus, FileLogBus, TrustPolicy } from '@app/event-bus';
import { ClickHouseClient } from '@clickhouse/client';
import { DATABASE, eventToRow, EventStoreRepository, NO_PROJECTIONS, QueryPort, QueryStoreConsumer, StoreQueries } from '@app/query';
import { isolateDataErrors } from '@app/runtime';
import type { ObjectStore } from '@app/storage';
import { ArchiveManifest, ArchiveRepository } from './archive.repository';
import { Archiver } from './archiver';

/**
 * The consumer group the rebuild replays the embedded log with: its own, so the query store's group keeps its
 * committed position (and the log keeps holding for it); registered for the replay only, then unregistered.
 */
export const REBUILD_GROUP = 'audit.rebuild.v1';

/** Rows per insert while restoring an archive (the store's group-commit writer also caps at 50,000). */
const ARCHIVE_INSERT_ROWS = 10_000;

export class RebuildError extends Error {
  constructor(
    readonly code: 'store_not_empty' | 'identity_missing' | 'no_event_log' | 'service_running',
    message: string,
  ) {
    super(message);
  }
}

export type RebuildProgress =
  | {
      phase: 'archives';
      done: number;
      total: number;
      events: number;
      archive?: Pick<ArchiveManifest, 'id' | 'tenant_id' | 'category' | 'day'>;
    }
  | { phase: 'log'; offset: string; end: string; stored: number; duplicates: number }
  | { phase: 'rollups' }
  | { phase: 'done' };

export interface RebuildReport {
  archives: { restored: number; events: number; tenants: number };
  /** The log replayed after the archives (embedded only: see docs/distributed.md for Kafka). */
  log: {
    replayed: boolean;
    /** The oldest record held and the end, per partition: records before `from` are only in the archives. */
    from: Record<string, string>;
    to: Record<string, string>;
    records: number;
    /** Stored from the log: events the archives did not hold. */
    stored: number;
    /** Dropped as already stored (in an archive, or a second copy in the log). */
    duplicates: number;
    /** Records the projection refuses (already in the DLQ from their first delivery; not sent again). */
    refused: number;
  };
  /** Roll-up buckets the final reconciliation had to rebuild (0 when the views kept up with every insert). */
  rollup_buckets_rebuilt: number;
  /** What the rebuilt store holds, per tenant, counted on `events FINAL` (one row per id). */
  events: Record<string, number>;
  total_events: number;
  /** Wall time of each step. */
  elapsed_ms: { archives: number; log: number; rollups: number };
  warnings: string[];
}

export interface RebuildOptions {
  /** The new store's client: migrated, and empty (see `storedCounts`, `emptyStore`). */
  ch: ClickHouseClient;
  archives: ArchiveRepository;
  objects: ObjectStore;
  /** The age identity for encrypted archives (AUDIT_ARCHIVE_IDENTITY). */
  identity: string | undefined;
  /** The embedded log to replay; a Kafka deployment replays with its query-stores (docs/distributed.md). */
  bus: EventBus | undefined;
  trust: TrustPolicy;
  defaultTenant: string;
  onProgress?: (p: RebuildProgress) => void;
}

/** Per tenant, the events a store holds (one per id: `FINAL` collapses copies not merged yet). */
export async function storedCounts(ch: ClickHouseClient): Promise<Record<string, number>> {
  const rows = await new StoreQueries(ch, { queryTimeoutSeconds: 0 }).rows<{ t: string; n: string }>(
    `SELECT tenant_id AS t, count() AS n FROM ${DATABASE}.events FINAL GROUP BY t ORDER BY t SETTINGS ${NO_PROJECTIONS}`,
  );
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

/** Empties a ClickHouse server's store (`--force`); a chdb store is moved aside instead, before it is opened. */
export async function emptyStore(ch: ClickHouseClient): Promise<void> {
  const q = new StoreQueries(ch, { queryTimeoutSeconds: 0 });
  for (const t of ['events', 'events_hourly', 'events_daily_keys', 'consumer_progress']) await q.command(`TRUNCATE TABLE ${DATABASE}.${t}`);
}

/**
 * The archives to restore, checked before anything is written: an encrypted one with no identity at hand
 * stops the rebuild here, naming the variable.
 */
export async function archivesToRestore(archives: ArchiveRepository, identity: string | undefined): Promise<ArchiveManifest[]> {
  const all = await archives.listAll();
  const encrypted = all.filter((m) => m.recipients.length > 0);
  if (encrypted.length > 0 && !identity) {
    throw new RebuildError(
      'identity_missing',
      `${encrypted.length} of the ${all.length} archives are encrypted and AUDIT_ARCHIVE_IDENTITY is not set (the age identity, AGE-SECRET-KEY-1...)`,
    );
  }
  return all;
}

/**
 * Rebuilds the query store from the archives plus the log, into an empty store, with the service stopped:
 *
 * 1. Every archive (every tenant, not deleted) is read through the archiver's reader (object size and
 *    SHA-256, age decryption, plaintext SHA-256 and count) and its events are inserted with their own log
 *    positions, so the store's highest stored offset is where the archives end.
 * 2. The embedded log is replayed from the oldest record it holds by the query store's own consumer under a
 *    group of its own (`REBUILD_GROUP`): records at or below the archives' end are checked by id, and
 *    records whose id was chosen before the log (restores, idempotency keys) are checked at any time, as
 *    after any restart, so an event that is both archived and still in the log is stored once.
 * 3. The roll-ups, fed by the materialized views on every insert, are reconciled with the events.
 *
 * Events older than the log's oldest record that no archive holds (past the hot window, not archived yet)
 * cannot come back: the report's `log.from` says where the log starts.
 */
export async function rebuildQueryStore(o: RebuildOptions): Promise<RebuildReport> {
  const progress = o.onProgress ?? (() => undefined);
  const store = new EventStoreRepository(o.ch, { queryTimeoutSeconds: 0 });
  const warnings: string[] = [];
  const started = performance.now();
  const manifests = await archivesToRestore(o.archives, o.identity);
  // The archiver reads the query store only to write an archive; here it only reads archives.
  const reader = new Archiver(undefined as unknown as QueryPort, o.objects);
  let archived = 0;
  for (const [i, m] of manifests.entries()) {
    // A batch at a time (memory holds one, whatever the archive's size), checked against its manifest first.
    let at = 0;
    for await (const events of reader.batches(m, o.identity, ARCHIVE_INSERT_ROWS)) {
      const lines = events.map((e) => {
        if (!e.position) throw new Error(`archive ${m.id}: event ${e.id} has no log position`);
        return JSON.stringify(eventToRow(e, e.position));
      });
      // The token makes a retried insert of the same rows a no-op.
      await store.insertLines(lines, `rebuild:${m.id}:${at}`);
      at += events.length;
    }
    archived += at;
    progress({ phase: 'archives', done: i + 1, total: manifests.length, events: archived, archive: m });
  }
  const report: RebuildReport = {
    archives: { restored: manifests.length, events: archived, tenants: new Set(manifests.map((m) => m.tenant_id)).size },
    log: { replayed: false, from: {}, to: {}, records: 0, stored: 0, duplicates: 0, refused: 0 },
    rollup_buckets_rebuilt: 0,
    events: {},
    total_events: 0,
    elapsed_ms: { archives: Math.round(performance.now() - started), log: 0, rollups: 0 },
    warnings,
  };
  const logStarted = performance.now();
  if (o.bus instanceof FileLogBus) {
    await replayLog(o.bus, store, o, report.log, progress);
  } else {
    warnings.push(
      'the log was not replayed: in the distributed mode the query-stores replay it, after their group is moved to the oldest records (docs/distributed.md, "Rebuilding the query store")',
    );
  }
  report.elapsed_ms.log = Math.round(performance.now() - logStarted);
  progress({ phase: 'rollups' });
  const rollupsStarted = performance.now();
  report.rollup_buckets_rebuilt = (await store.reconcileRollup()).length;
  report.elapsed_ms.rollups = Math.round(performance.now() - rollupsStarted);
  report.events = await storedCounts(o.ch);
  report.total_events = Object.values(report.events).reduce((a, b) => a + b, 0);
  progress({ phase: 'done' });
  return report;
}

/** Replays the embedded log from its oldest record to the end it has now (the service is stopped: nothing appends). */
async function replayLog(
  bus: FileLogBus,
  store: EventStoreRepository,
  o: RebuildOptions,
  out: RebuildReport['log'],
  progress: (p: RebuildProgress) => void,
): Promise<void> {
  const end = await bus.endOffsets(TOPIC_EVENTS);
  out.to = Object.fromEntries(Object.entries(end));
  // A rebuild that was interrupted left its group registered at where it stopped: this one starts over.
  await bus.unregisterGroup(REBUILD_GROUP);
  const oldest = await bus.oldestOffsets(TOPIC_EVENTS);
  out.from = Object.fromEntries(Object.entries(oldest));
  const remaining = new Set(Object.keys(end).filter((p) => BigInt(end[Number(p)]) > BigInt(oldest[Number(p)] ?? end[Number(p)])));
  out.replayed = true;
  if (remaining.size === 0) return;
  const consumer = new QueryStoreConsumer(
    store,
    { defaultTenant: o.defaultTenant, trust: o.trust },
    {
      onBatch: (rows, rejected, duplicates) => {
        out.stored += rows;
        out.refused += rejected;
        out.duplicates += duplicates;
      },
      onError: () => undefined,
    },
  );
  const seen = new Set<number>();
  let failed: (e: unknown) => void = () => undefined;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    finished = resolve;
    failed = reject;
  });
  // Awaited below once subscribed; a failure of the first batch may come before that.
  done.catch(() => undefined);
  const handle = async (batch: BusBatch): Promise<void> => {
    const fresh = !seen.has(batch.partition);
    seen.add(batch.partition);
    try {
      await consumer.handle(batch, {
        partition: batch.partition,
        generation: batch.generation ?? 0,
        fresh,
        // Refused records went to the DLQ on their first delivery: counted, not sent again.
        deadLetter: async () => undefined,
        isolating: (items, handleSome) => isolateDataErrors(items, handleSome, () => undefined),
      });
    } catch (e) {
      failed(e);
      throw e;
    }
    out.records += batch.records.length;
    const endOf = end[batch.partition];
    progress({ phase: 'log', offset: batch.lastOffset, end: String(endOf), stored: out.stored, duplicates: out.duplicates });
    if (BigInt(batch.lastOffset) + 1n >= BigInt(endOf)) {
      remaining.delete(String(batch.partition));
      if (remaining.size === 0) finished();
    }
  };
  const subscription = await bus.subscribe(REBUILD_GROUP, handle, { topic: TOPIC_EVENTS, fromBeginning: true });
  try {
    await done;
  } finally {
    await subscription.close();
    await consumer.close();
    await bus.unregisterGroup(REBUILD_GROUP);
  }
}
