import { performance } from 'node:perf_hooks';
import { EventStoreRepository, RebuiltBucket } from './event-store.repository';

interface PendingWrite {
  lines: string[];
  dedupToken: string;
  partition: number;
  lastOffset: string;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Group commit for the query store. A batch handed over while an insert runs waits and goes with the others
 * in the next one, with one progress row per log partition: under load, six Kafka partitions' batches of a
 * few thousand rows become one insert (an insert's cost per row falls by half from 1,000 to 10,000 rows);
 * when the store is idle a batch goes at once. Every caller's promise settles with the insert holding its
 * rows, so a batch is committed on the bus only once it is stored.
 */
export class StoreWriter {
  private pending: PendingWrite[] = [];
  private running = false;

  private readonly maxRowsPerInsert: number;
  private readonly onInsert?: (rows: number, ms: number) => void;
  private readonly soleWriter: boolean;
  private readonly onRollupRepaired?: (buckets: RebuiltBucket[]) => void;
  /** Set after a failed insert (its rows may be in the events table and not the roll-up, or the reverse). */
  private rollupSuspect = false;

  constructor(
    private readonly store: EventStoreRepository,
    options: {
      /** At most this many rows in one insert (a single larger batch still goes whole). */
      maxRowsPerInsert?: number;
      /** Called after each successful insert with its rows and its time, progress row included. */
      onInsert?: (rows: number, ms: number) => void;
      /**
       * This writer is the only one of the store (chdb, in this process): the roll-ups are reconciled with
       * the events table by `recover` and, after a failed insert, before the next one (see reconcileRollup).
       */
      soleWriter?: boolean;
      /** Buckets of the roll-ups that a reconciliation rebuilt. */
      onRollupRepaired?: (buckets: RebuiltBucket[]) => void;
    } = {},
  ) {
    this.maxRowsPerInsert = options.maxRowsPerInsert ?? 50_000;
    this.onInsert = options.onInsert;
    this.soleWriter = options.soleWriter ?? false;
    this.onRollupRepaired = options.onRollupRepaired;
  }

  /**
   * Before the first write: as the sole writer, reconciles the roll-ups with the events table, since a crash
   * may have cut the last insert between them. Throws if the store does.
   */
  async recover(): Promise<void> {
    if (this.soleWriter) await this.reconcileRollup();
  }

  /** Until it succeeds, it is tried again before each insert. */
  private async reconcileRollup(): Promise<void> {
    this.rollupSuspect = true;
    const buckets = await this.store.reconcileRollup();
    this.rollupSuspect = false;
    if (buckets.length > 0) this.onRollupRepaired?.(buckets);
  }

  write(lines: string[], dedupToken: string, partition: number, lastOffset: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ lines, dedupToken, partition, lastOffset, resolve, reject });
      if (!this.running) {
        this.running = true;
        void this.drain();
      }
    });
  }

  private take(): PendingWrite[] {
    let rows = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || rows + this.pending[n].lines.length <= this.maxRowsPerInsert)) {
      rows += this.pending[n].lines.length;
      n++;
    }
    return this.pending.splice(0, n);
  }

  private async drain(): Promise<void> {
    // Handlers that are ready in this turn of the event loop join the first insert too.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const group = this.take();
      try {
        if (this.rollupSuspect) await this.reconcileRollup();
        const started = performance.now();
        const lines = group.length === 1 ? group[0].lines : group.flatMap((w) => w.lines);
        await this.store.insertLines(lines, group.map((w) => w.dedupToken).join(','));
        const last = new Map<number, bigint>();
        for (const w of group) {
          const offset = BigInt(w.lastOffset);
          if ((last.get(w.partition) ?? -1n) < offset) last.set(w.partition, offset);
        }
        await this.store.recordProgress([...last].map(([partition, offset]) => ({ partition, offset: String(offset) })));
        this.onInsert?.(lines.length, performance.now() - started);
        for (const w of group) w.resolve();
      } catch (e) {
        if (this.soleWriter) this.rollupSuspect = true;
        for (const w of group) w.reject(e);
      }
    }
    this.running = false;
  }
}
