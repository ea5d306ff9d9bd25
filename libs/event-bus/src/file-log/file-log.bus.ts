import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Logger } from 'pino';
import { TOPIC_EVENTS } from '@app/contracts';
import { backoffDelayMs, sleep } from '../backoff';
import {
  BatchHandler,
  BusBatch,
  BusHealth,
  EventBus,
  OutgoingRecord,
  RetryBackoff,
  SubscribeOptions,
  Subscription,
} from '../event-bus.port';
import { LogCursor, ReadRecord, TopicLog } from './topic-log';

export interface FileLogBusOptions {
  dir: string;
  fsync: boolean;
  segmentBytes: number;
  /** A consumer gets at most this many records per batch. */
  maxBatchRecords: number;
  /** A part-full batch waits this long after the previous delivery, so the store sees few, large inserts. */
  batchIntervalMs: number;
  /**
   * The hot window: a segment is deleted once every record in it is older than this AND every registered
   * group has committed past it. Beyond it the archives are the record (docs/architecture.md).
   */
  hotWindowMs: number;
  /** How often segments are checked for deletion (default one minute). */
  retentionCheckMs?: number;
  /** The clock of append times and of the hot window; injected by tests. */
  now?: () => number;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** The delay before a failed batch comes again (default 100 ms doubling up to 30 s). */
  retryBackoff?: RetryBackoff;
  onHandlerError?: (group: string, error: unknown, attempt: number) => void;
}

interface GroupState {
  group: string;
  topic: string;
  cursor: LogCursor;
}

export interface RegisteredGroup {
  group: string;
  /** The committed position: the offset of the next record the group will read. */
  offset: number;
  /** Records appended that the group has not committed yet. */
  lag: number;
  /** Whether this process has a subscription of the group open now. */
  subscribed: boolean;
}

const DAY_MS = 24 * 3600 * 1000;
const CURSOR_SUFFIX = '.json';
export const DEFAULT_BACKOFF: RetryBackoff = { baseMs: 100, maxMs: 30_000 };

type ReadResult = { records: ReadRecord[]; next: LogCursor };

/**
 * The embedded event bus: one durable segment log per topic (a single partition, 0) and one committed
 * cursor file per consumer group. Same guarantees as the Kafka adapter, so code above the port is shared.
 *
 * The cursor file is also the group's registration: it is written when the group first subscribes and stays
 * until `unregisterGroup`, so a group that is not running (a capability switched off for a restart) still
 * holds every record it has not committed. Segments go only when older than the hot window and behind every
 * registered group; a new group starts at the oldest record held and the log says which that is.
 */
export class FileLogBus implements EventBus {
  readonly kind = 'embedded' as const;
  private readonly topics = new Map<string, Promise<TopicLog>>();
  private readonly groups: GroupState[] = [];
  private readonly loops: Promise<void>[] = [];
  private closed = false;
  private retentionTimer: NodeJS.Timeout | undefined;
  /** Registration, unregistration and deletion run one at a time, so a segment cannot go under a new group. */
  private registry: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: FileLogBusOptions) {
    this.now = options.now ?? Date.now;
    this.retentionTimer = setInterval(() => {
      this.applyRetention().catch((e: unknown) =>
        this.options.logger?.warn({ err: (e as Error).message }, 'deleting old log segments failed; retried at the next check'),
      );
    }, options.retentionCheckMs ?? 60_000);
    this.retentionTimer.unref();
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.registry.then(fn);
    this.registry = run.catch(() => undefined);
    return run;
  }

  private topic(name: string): Promise<TopicLog> {
    let t = this.topics.get(name);
    if (!t) {
      // Segments roll at least every seventh of the window (daily for 7 days), so one that every group has
      // passed goes within about a day of leaving the window even when it never fills.
      const log = new TopicLog(
        path.join(this.options.dir, 'topics', name),
        this.options.segmentBytes,
        this.options.fsync,
        this.now,
        this.options.hotWindowMs / 7,
      );
      t = log.open().then(() => log);
      this.topics.set(name, t);
    }
    return t;
  }

  async publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    const log = await this.topic(topic);
    await log.append(
      records.map((r) => ({ key: r.key, value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value, headers: r.headers })),
    );
  }

  private groupsDir(): string {
    return path.join(this.options.dir, 'groups');
  }

  private cursorFile(group: string, topic: string): string {
    return path.join(this.groupsDir(), `${group}--${topic}${CURSOR_SUFFIX}`);
  }

  private async readCursor(group: string, topic: string): Promise<LogCursor | null> {
    try {
      return JSON.parse(await fsp.readFile(this.cursorFile(group, topic), 'utf8')) as LogCursor;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return null;
    }
  }

  /** Every group registered on `topic`, with its committed cursor as on disk. */
  private async registeredCursors(topic: string): Promise<Map<string, LogCursor>> {
    const suffix = `--${topic}${CURSOR_SUFFIX}`;
    let names: string[];
    try {
      names = await fsp.readdir(this.groupsDir());
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw e;
    }
    const out = new Map<string, LogCursor>();
    for (const name of names.filter((n) => n.endsWith(suffix))) {
      const group = name.slice(0, -suffix.length);
      const cursor = await this.readCursor(group, topic);
      if (cursor) out.set(group, cursor);
    }
    return out;
  }

  /**
   * The cursor a subscription starts from. A group seen for the first time is registered at once (its
   * cursor written before any record is read), at the oldest record held unless it asked for the end.
   */
  private async startCursor(group: string, topic: string, log: TopicLog, fromBeginning: boolean): Promise<LogCursor> {
    const known = await this.readCursor(group, topic);
    if (known && known.offset >= log.firstOffset) return known;
    const cursor = log.cursorAt(fromBeginning || known ? 'beginning' : 'end');
    await this.commitCursor({ group, topic, cursor });
    const oldest = await log.oldest();
    const fields = {
      group,
      topic,
      offset: cursor.offset,
      oldest_offset: oldest.offset,
      oldest_record_at: oldest.timestampMs === null ? null : new Date(oldest.timestampMs).toISOString(),
    };
    if (known) {
      // Only a log written before groups were registered (or edited by hand) can get here.
      this.options.logger?.warn(
        { ...fields, committed_offset: known.offset },
        "the group's committed position is no longer in the log; it continues from the oldest record held (the records between are only in the archives)",
      );
    } else if (!fromBeginning) {
      this.options.logger?.info(fields, 'registered a new consumer group at the end of the log');
    } else {
      this.options.logger?.info(
        fields,
        oldest.offset === 0
          ? 'registered a new consumer group; it starts at offset 0, the log holds every record since it began'
          : 'registered a new consumer group; it starts at the oldest record held, older records are only in the archives',
      );
    }
    return cursor;
  }

  private async commitCursor(state: Pick<GroupState, 'group' | 'topic' | 'cursor'>): Promise<void> {
    const file = this.cursorFile(state.group, state.topic);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    // Not ending in CURSOR_SUFFIX, so a half-written file is never taken for a registration.
    const tmp = `${file}.tmp`;
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(state.cursor));
      if (this.options.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  }

  async subscribe(group: string, handler: BatchHandler, options: SubscribeOptions = {}): Promise<Subscription> {
    const topicName = options.topic ?? TOPIC_EVENTS;
    const log = await this.topic(topicName);
    const cursor = await this.serially(() => this.startCursor(group, topicName, log, options.fromBeginning ?? true));
    const state: GroupState = { group, topic: topicName, cursor };
    this.groups.push(state);
    const { maxBatchRecords } = this.options;
    const backoff = this.options.retryBackoff ?? DEFAULT_BACKOFF;
    let stopped = false;
    let wake: (() => void) | null = null;
    /** Ends the back-off sleep in progress (retryNow). */
    let endBackoff: (() => void) | null = null;
    /** retryNow came while no batch was backing off: the next failure is retried at once. */
    let retryRequested = false;
    /** Failures of the batch at the cursor in a row: the back-off's exponent. */
    let attempt = 0;
    const off = log.onAppend(() => wake?.());
    const waitForData = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          wake = null;
          resolve();
        }
        wake = done;
      });
    const backOff = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          endBackoff = null;
          resolve();
        }
        endBackoff = done;
      });
    const read = (from: LogCursor): Promise<ReadResult> => log.read(from, maxBatchRecords, 16 << 20);

    const loop = (async () => {
      let lastDelivery = 0;
      /** The batch at the cursor failed and is being tried again. */
      let retrying = false;
      /**
       * The next batch, read while the handler has the current one, when a full batch is already waiting:
       * a group that is behind then never waits on the file between batches.
       */
      let ahead: Promise<ReadResult> | null = null;
      /**
       * Cursor commits run in order behind the delivery: the next batch goes to the handler while the previous
       * position is being synced. A crash before a commit lands only redelivers (at least once).
       */
      let commits: Promise<void> = Promise.resolve();
      let commitFailed: unknown = null;
      try {
        while (!stopped && !this.closed) {
          if (commitFailed !== null) throw commitFailed;
          let result: ReadResult;
          if (ahead) {
            result = await ahead;
            ahead = null;
          } else {
            const available = log.nextOffset - state.cursor.offset;
            if (available <= 0) {
              await waitForData(1000);
              continue;
            }
            // A retry does not wait for the delivery interval: its back-off (or a retryNow) already decided when.
            if (available < maxBatchRecords && !retrying) {
              const wait = lastDelivery + this.options.batchIntervalMs - Date.now();
              if (wait > 0) {
                await sleep(Math.min(wait, this.options.batchIntervalMs));
                if (stopped || this.closed) break;
              }
            }
            result = await read(state.cursor);
          }
          const { records, next } = result;
          if (records.length === 0) {
            await waitForData(100);
            continue;
          }
          if (log.nextOffset - next.offset >= maxBatchRecords) {
            ahead = read(next);
            // Awaited when its turn comes; a failure then surfaces there.
            ahead.catch(() => undefined);
          }
          const batch: BusBatch = {
            topic: topicName,
            partition: 0,
            firstOffset: String(records[0].offset),
            lastOffset: String(records[records.length - 1].offset),
            heartbeat: async () => undefined,
            records: records.map((r) => ({
              topic: topicName,
              partition: 0,
              offset: String(r.offset),
              timestampMs: r.timestampMs,
              key: r.key,
              value: r.value,
              headers: r.headers,
            })),
          };
          try {
            await handler(batch);
          } catch (e) {
            this.options.onHandlerError?.(group, e, attempt);
            if (stopped || this.closed) return;
            // The batch comes again from the same position, read afresh: it starts with the same records and
            // takes in what arrived during the back-off, up to a full batch.
            ahead = null;
            retrying = true;
            if (retryRequested) {
              retryRequested = false;
              attempt = 0;
            } else {
              await backOff(backoffDelayMs(attempt++, backoff.baseMs, backoff.maxMs));
            }
            continue;
          }
          attempt = 0;
          retrying = false;
          retryRequested = false;
          state.cursor = next;
          const previous = commits;
          commits = previous.then(() => this.commitCursor({ group, topic: topicName, cursor: next }));
          commits.catch((e: unknown) => (commitFailed ??= e));
          lastDelivery = Date.now();
        }
      } finally {
        await commits.catch(() => undefined);
      }
      if (commitFailed !== null) throw commitFailed;
    })();
    this.loops.push(loop);
    return {
      close: async () => {
        stopped = true;
        wake?.();
        endBackoff?.();
        off();
        await loop;
        const at = this.groups.indexOf(state);
        if (at >= 0) this.groups.splice(at, 1);
      },
      retryNow: () => {
        if (endBackoff) {
          attempt = 0;
          endBackoff();
        } else {
          retryRequested = true;
        }
      },
    };
  }

  /**
   * Ends a group's registration: its cursor file goes, and the log stops holding records for it. For a
   * capability that is retired; one that is only stopped keeps its registration. Returns whether the group
   * was registered.
   */
  async unregisterGroup(group: string, topic: string = TOPIC_EVENTS): Promise<boolean> {
    if (this.groups.some((g) => g.group === group && g.topic === topic)) {
      throw new Error(`consumer group ${group} is subscribed to ${topic}; close its subscription before unregistering it`);
    }
    return this.serially(async () => {
      try {
        await fsp.unlink(this.cursorFile(group, topic));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
      this.options.logger?.info({ group, topic }, 'unregistered a consumer group; the log no longer holds records for it');
      return true;
    });
  }

  /** Each registered group of `topic` with its committed position and lag, subscribed here or not. */
  async registeredGroups(topic: string = TOPIC_EVENTS): Promise<RegisteredGroup[]> {
    const log = await this.topic(topic);
    const cursors = await this.registeredCursors(topic);
    return [...cursors].map(([group, cursor]) => ({
      group,
      offset: cursor.offset,
      lag: Math.max(0, log.nextOffset - cursor.offset),
      subscribed: this.groups.some((g) => g.group === group && g.topic === topic),
    }));
  }

  /** Records not yet committed by each group subscribed in this process (the consumer host's lag metric). */
  async lag(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const topic of new Set(this.groups.map((g) => g.topic))) {
      for (const g of await this.registeredGroups(topic)) if (g.subscribed) out[g.group] = (out[g.group] ?? 0) + g.lag;
    }
    return out;
  }

  /**
   * Deletes the segments that are entirely older than the hot window and that every registered group has
   * committed past (run every `retentionCheckMs`). Returns how many segments went, per topic.
   */
  applyRetention(): Promise<Record<string, number>> {
    return this.serially(async () => {
      const cutoff = this.now() - this.options.hotWindowMs;
      const out: Record<string, number> = {};
      for (const [name, logPromise] of this.topics) {
        const log = await logPromise;
        const cursors = [...(await this.registeredCursors(name)).values()];
        const processedBefore = Math.min(log.nextOffset, ...cursors.map((c) => c.offset));
        const removed = await log.deleteSegmentsBefore(processedBefore, cutoff);
        out[name] = removed;
        if (removed > 0) {
          this.options.logger?.info(
            { topic: name, segments: removed, oldest_offset: log.firstOffset },
            'deleted log segments older than the hot window that every registered group has processed',
          );
        }
      }
      return out;
    });
  }

  async health(): Promise<BusHealth> {
    const detail: Record<string, unknown> = {
      kind: 'embedded',
      dir: this.options.dir,
      hot_window_days: this.options.hotWindowMs / DAY_MS,
    };
    for (const [name, logPromise] of this.topics) {
      const log = await logPromise;
      const oldest = await log.oldest();
      const groups = await this.registeredGroups(name);
      detail[name] = {
        next_offset: log.nextOffset,
        oldest_offset: oldest.offset,
        oldest_record_at: oldest.timestampMs === null ? null : new Date(oldest.timestampMs).toISOString(),
        consumer_lag: Object.fromEntries(groups.map((g) => [g.group, g.lag])),
        groups: Object.fromEntries(groups.map((g) => [g.group, { committed_offset: g.offset, lag: g.lag, subscribed: g.subscribed }])),
      };
    }
    return { ok: !this.closed, detail };
  }

  async endOffsets(topic: string): Promise<Record<number, string>> {
    return { 0: String((await this.topic(topic)).nextOffset) };
  }

  /** The start of a topic: per partition, the offset of the oldest record held (older ones went with their segments). */
  async oldestOffsets(topic: string): Promise<Record<number, string>> {
    return { 0: String((await this.topic(topic)).firstOffset) };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.allSettled(this.loops);
    for (const t of this.topics.values()) await (await t).close();
    this.topics.clear();
  }
}
