import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { classifyStoreError, dataErrorName, StoreRefusal } from './store-errors';
import { EventInserts, RebuiltBucket, RollupRepair } from './store-ports';

interface PendingWrite {
  lines: string[];
  dedupToken: string;
  partition: number;
  lastOffset: string;
  resolve(refused: StoreRefusal[]): void;
  reject(error: unknown): void;
}

/** A row refused while isolating, by its index in the group's lines. */
interface Refused {
  index: number;
  error: unknown;
}

/** ClickHouse names the refused row in a parse error, 1-based within the insert: `(at row 7777)`. */
const AT_ROW = /\(at row (\d+)\)/;

/**
 * Group commit for the query store. A batch handed over while an insert runs waits and goes with the others
 * in the next one, with one progress row per log partition: under load, six Kafka partitions' batches of a
 * few thousand rows become one insert (an insert's cost per row falls by half from 1,000 to 10,000 rows);
 * when the store is idle a batch goes at once. Every caller's promise settles with the insert holding its
 * rows, so a batch is committed on the bus only once it is stored.
 *
 * An insert the store refuses for its data (a permanent error, see classifyStoreError) is split until the
 * rows it refuses are alone: the others are stored, and each caller gets back its refused rows with the
 * store's reason, to send to the DLQ. A transient error fails every write of the insert, to be retried.
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
    private readonly store: EventInserts & RollupRepair,
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

  /**
   * Stores `lines` and records `lastOffset` as written for `partition`. Resolves with the rows the store
   * refused (their indexes in `lines`; every other row is stored); rejects when the store failed otherwise.
   */
  write(lines: string[], dedupToken: string, partition: number, lastOffset: string): Promise<StoreRefusal[]> {
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
      let failed = false;
      try {
        if (this.rollupSuspect) await this.reconcileRollup();
        const started = performance.now();
        const lines = group.length === 1 ? group[0].lines : group.flatMap((w) => w.lines);
        let refused: Refused[] = [];
        try {
          await this.store.insertLines(lines, group.map((w) => w.dedupToken).join(','));
        } catch (e) {
          failed = true;
          if (classifyStoreError(e) !== 'permanent') throw e;
          refused = await this.isolate(lines, group.map((w) => w.dedupToken).join(','), e);
        }
        const last = new Map<number, bigint>();
        for (const w of group) {
          const offset = BigInt(w.lastOffset);
          if ((last.get(w.partition) ?? -1n) < offset) last.set(w.partition, offset);
        }
        await this.store.recordProgress([...last].map(([partition, offset]) => ({ partition, offset: String(offset) })));
        this.onInsert?.(lines.length - refused.length, performance.now() - started);
        let start = 0;
        let r = 0;
        for (const w of group) {
          const mine: StoreRefusal[] = [];
          for (; r < refused.length && refused[r].index < start + w.lines.length; r++) {
            mine.push({ index: refused[r].index - start, ...refusalOf(refused[r].error) });
          }
          start += w.lines.length;
          w.resolve(mine);
        }
      } catch (e) {
        failed = true;
        for (const w of group) w.reject(e);
      } finally {
        // A failed insert, even one whose rows were then stored in parts, may have left one side behind.
        if (failed && this.soleWriter) this.rollupSuspect = true;
      }
    }
    this.running = false;
  }

  /**
   * Stores every row of `lines` the store takes, after the whole was refused with `error`, and returns the
   * others in order. The rows are split where the store's message says the bad row is (`at row N`: the rows
   * before it, it alone, the rows after), or in halves when it does not say or said wrongly once; a part that
   * fails is split again, a single row that fails is refused. One bad row of 10,000 costs four inserts; each
   * further bad row about two more (failed inserts are cheap: the engine stops parsing at the bad row).
   * Each part's dedup token is the group's token and a digest of the part's rows: a redelivery that brings
   * the same rows back (some maybe dropped as already stored) redoes a part that was stored as a no-op, and
   * no two different parts can share a token. A transient error throws: the whole group is retried.
   */
  private async isolate(lines: string[], token: string, error: unknown): Promise<Refused[]> {
    const digests = lines.map((l) => createHash('sha1').update(l).digest());
    let trustHints = true;
    const refused: Refused[] = [];
    const split = async (from: number, to: number, err: unknown): Promise<void> => {
      if (to - from === 1) {
        refused.push({ index: from, error: err });
        return;
      }
      const at = trustHints ? Number(AT_ROW.exec(String((err as Error)?.message ?? ''))?.[1] ?? 0) : 0;
      const parts: Array<[number, number, boolean]> =
        at >= 1 && at <= to - from
          ? [
              [from, from + at - 1, false],
              [from + at - 1, from + at, true],
              [from + at, to, false],
            ]
          : [
              [from, (from + to) >> 1, false],
              [(from + to) >> 1, to, false],
            ];
      for (const [a, b, hinted] of parts) {
        if (a === b) continue;
        const part = lines.slice(a, b);
        const hash = createHash('sha1');
        for (let i = a; i < b; i++) hash.update(digests[i]);
        try {
          await this.store.insertLines(part, `${token}/${hash.digest('hex')}`);
          if (hinted) trustHints = false;
        } catch (e) {
          if (classifyStoreError(e) !== 'permanent') throw e;
          await split(a, b, e);
        }
      }
    };
    await split(0, lines.length, error);
    return refused.sort((x, y) => x.index - y.index);
  }
}

function refusalOf(error: unknown): { reason: string; code: string } {
  return { reason: String((error as Error)?.message ?? error), code: dataErrorName(error) ?? 'UNKNOWN' };
}
