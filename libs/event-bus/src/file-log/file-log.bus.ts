import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { backoffDelayMs, sleep } from '../backoff';
import { BatchHandler, BusBatch, BusHealth, EventBus, OutgoingRecord, SubscribeOptions, Subscription } from '../event-bus.port';
import { LogCursor, TopicLog } from './topic-log';

export interface FileLogBusOptions {
  dir: string;
  fsync: boolean;
  segmentBytes: number;
  /** A consumer gets at most this many records per batch. */
  maxBatchRecords: number;
  /** A part-full batch waits this long after the previous delivery, so the store sees few, large inserts. */
  batchIntervalMs: number;
  /** Segments every group has read are deleted once older than this. */
  retentionMs: number;
  onHandlerError?: (group: string, error: unknown, attempt: number) => void;
}

interface GroupState {
  group: string;
  topic: string;
  cursor: LogCursor;
}

/**
 * The embedded event bus: one durable segment log per topic (a single partition, 0) and one committed
 * cursor file per consumer group. Same guarantees as the Kafka adapter, so code above the port is shared.
 */
export class FileLogBus implements EventBus {
  readonly kind = 'embedded' as const;
  private readonly topics = new Map<string, Promise<TopicLog>>();
  private readonly groups: GroupState[] = [];
  private readonly loops: Promise<void>[] = [];
  private closed = false;
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: FileLogBusOptions) {
    this.retentionTimer = setInterval(() => void this.applyRetention(), 60_000);
    this.retentionTimer.unref();
  }

  private topic(name: string): Promise<TopicLog> {
    let t = this.topics.get(name);
    if (!t) {
      const log = new TopicLog(path.join(this.options.dir, 'topics', name), this.options.segmentBytes, this.options.fsync);
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

  private cursorFile(group: string, topic: string): string {
    return path.join(this.options.dir, 'groups', `${group}--${topic}.json`);
  }

  private async loadCursor(group: string, topic: string, log: TopicLog, fromBeginning: boolean): Promise<LogCursor> {
    try {
      return JSON.parse(await fsp.readFile(this.cursorFile(group, topic), 'utf8')) as LogCursor;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return log.cursorAt(fromBeginning ? 'beginning' : 'end');
    }
  }

  private async commitCursor(state: GroupState): Promise<void> {
    const file = this.cursorFile(state.group, state.topic);
    await fsp.mkdir(path.dirname(file), { recursive: true });
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
    const topicName = options.topic ?? 'audit.events.v1';
    const log = await this.topic(topicName);
    const state: GroupState = {
      group,
      topic: topicName,
      cursor: await this.loadCursor(group, topicName, log, options.fromBeginning ?? true),
    };
    this.groups.push(state);
    let stopped = false;
    let wake: (() => void) | null = null;
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

    const loop = (async () => {
      let lastDelivery = 0;
      while (!stopped && !this.closed) {
        const available = log.nextOffset - state.cursor.offset;
        if (available <= 0) {
          await waitForData(1000);
          continue;
        }
        if (available < this.options.maxBatchRecords) {
          const wait = lastDelivery + this.options.batchIntervalMs - Date.now();
          if (wait > 0) {
            await sleep(Math.min(wait, this.options.batchIntervalMs));
            if (stopped || this.closed) break;
          }
        }
        const { records, next } = await log.read(state.cursor, this.options.maxBatchRecords, 16 << 20);
        if (records.length === 0) {
          await waitForData(100);
          continue;
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
        for (let attempt = 0; ; attempt++) {
          try {
            await handler(batch);
            break;
          } catch (e) {
            this.options.onHandlerError?.(group, e, attempt);
            if (stopped || this.closed) return;
            await sleep(backoffDelayMs(attempt));
          }
        }
        state.cursor = next;
        await this.commitCursor(state);
        lastDelivery = Date.now();
      }
    })();
    this.loops.push(loop);
    return {
      close: async () => {
        stopped = true;
        wake?.();
        off();
        await loop;
      },
    };
  }

  private async applyRetention(): Promise<void> {
    const cutoff = Date.now() - this.options.retentionMs;
    for (const [name, logPromise] of this.topics) {
      const log = await logPromise;
      const readers = this.groups.filter((g) => g.topic === name);
      if (readers.length === 0) continue;
      const minOffset = Math.min(...readers.map((g) => g.cursor.offset));
      await log.deleteSegmentsBefore(minOffset, cutoff);
    }
  }

  async health(): Promise<BusHealth> {
    const detail: Record<string, unknown> = { kind: 'embedded', dir: this.options.dir };
    for (const [name, logPromise] of this.topics) {
      const log = await logPromise;
      detail[name] = {
        next_offset: log.nextOffset,
        consumer_lag: Object.fromEntries(
          this.groups.filter((g) => g.topic === name).map((g) => [g.group, log.nextOffset - g.cursor.offset]),
        ),
      };
    }
    return { ok: !this.closed, detail };
  }

  async endOffsets(topic: string): Promise<Record<number, string>> {
    return { 0: String((await this.topic(topic)).nextOffset) };
  }

  /** Offsets for /audit/status: how far each group is behind the end of each topic. */
  async lag(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const g of this.groups) {
      const log = await this.topic(g.topic);
      out[g.group] = log.nextOffset - g.cursor.offset;
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await Promise.allSettled(this.loops);
    for (const t of this.topics.values()) await (await t).close();
    this.topics.clear();
  }
}
