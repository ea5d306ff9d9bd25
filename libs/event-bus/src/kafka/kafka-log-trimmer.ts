import { Admin } from 'kafkajs';
import { Logger } from 'pino';
import { TOPIC_EVENTS } from '@app/contracts';

export interface KafkaLogTrimmerOptions {
  admin: Admin;
  topic?: string;
  hotWindowMs: number;
  /**
   * Groups the log is held for even when they have no committed offset (a capability deployed but not yet
   * started, or one whose offsets the broker expired): such a group holds the whole topic.
   */
  registeredGroups: string[];
  /** How often `start` trims (default five minutes). */
  intervalMs?: number;
  /** The clock of the hot window; injected by tests. */
  now?: () => number;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

export interface PartitionTrim {
  partition: number;
  /** The oldest offset held before this run. */
  from: number;
  /** Records below this offset are deleted (equal to `from`: nothing to delete). */
  to: number;
  /** What stopped the trim there: the hot window, or the group with the least progress. */
  heldBy: string;
}

export interface TrimReport {
  topic: string;
  at: string;
  groups: string[];
  partitions: PartitionTrim[];
  deletedRecords: number;
}

const HOT_WINDOW = 'hot window';

/**
 * Where each partition may be trimmed to: the lowest of the hot-window boundary (the first offset appended
 * inside the window) and every registered group's committed offset, a group without one holding the
 * partition from its oldest record. Never below the oldest offset held.
 */
export function planTrim(
  partitions: Array<{ partition: number; low: bigint }>,
  windowStart: ReadonlyMap<number, bigint>,
  groups: ReadonlyMap<string, ReadonlyMap<number, bigint>>,
): PartitionTrim[] {
  return partitions.map(({ partition, low }) => {
    let to = windowStart.get(partition) ?? low;
    let heldBy = HOT_WINDOW;
    for (const [group, committed] of groups) {
      const position = committed.get(partition) ?? low;
      if (position < to) {
        to = position;
        heldBy = group;
      }
    }
    if (to < low) to = low;
    return { partition, from: Number(low), to: Number(to), heldBy };
  });
}

/**
 * Ends the Kafka event topic's "kept for ever" with the embedded log's rule: per partition it deletes the
 * records that are older than the hot window AND that every registered consumer group has committed past,
 * with `DeleteRecords` (the topic itself has retention.ms=-1, so the broker deletes nothing by itself).
 *
 * Registered groups are the configured ones plus every group the cluster lists that has a committed offset
 * on the topic. A configured group without a committed offset on a partition holds that partition whole;
 * so does a listed group for the partitions it has not committed on. A group is unregistered by deleting it
 * (`kafka-consumer-groups.sh --delete --group ...`) and taking it off the configured list.
 *
 * Idempotent and safe with several replicas running it: a run deletes only below offsets it has just read
 * as committed by every group and as older than the window, committed offsets only move forward, and a
 * deletion below what another replica already deleted changes nothing.
 */
export class KafkaLogTrimmer {
  private readonly topic: string;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<TrimReport | undefined> | undefined;
  private last: TrimReport | undefined;
  private lastError: string | undefined;

  constructor(private readonly options: KafkaLogTrimmerOptions) {
    this.topic = options.topic ?? TOPIC_EVENTS;
    this.now = options.now ?? Date.now;
  }

  /** Trims now and then every `intervalMs`; a failed run is logged and tried again at the next one. */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.running ??= this.trimOnce()
        .then(
          (r) => {
            this.lastError = undefined;
            return r;
          },
          (e: unknown) => {
            this.lastError = e instanceof Error ? e.message : String(e);
            this.options.logger.warn({ topic: this.topic, err: this.lastError }, 'trimming the event log failed; retried at the next run');
            return undefined;
          },
        )
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? 5 * 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** For a health check's detail: what the last run found (never fails readiness: the log keeps more, that is all). */
  status(): Record<string, unknown> {
    return {
      topic: this.topic,
      hot_window_days: this.options.hotWindowMs / 86_400_000,
      last_run: this.last ?? null,
      ...(this.lastError ? { last_error: this.lastError } : {}),
    };
  }

  /** The groups that hold the log: the configured ones and every one with a committed offset on the topic. */
  async registeredGroups(): Promise<Map<string, Map<number, bigint>>> {
    const { admin } = this.options;
    const { groups } = await admin.listGroups();
    const candidates = [...new Set([...this.options.registeredGroups, ...groups.map((g) => g.groupId)])];
    const out = new Map<string, Map<number, bigint>>();
    for (const groupId of candidates) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [this.topic] });
      const byPartition = new Map<number, bigint>();
      for (const p of committed?.partitions ?? []) if (BigInt(p.offset) >= 0n) byPartition.set(p.partition, BigInt(p.offset));
      if (byPartition.size > 0 || this.options.registeredGroups.includes(groupId)) out.set(groupId, byPartition);
    }
    return out;
  }

  /** One run: reads the offsets, deletes what may go, and reports per partition what held the rest. */
  async trimOnce(): Promise<TrimReport> {
    const { admin } = this.options;
    const boundaryMs = this.now() - this.options.hotWindowMs;
    const ends = await admin.fetchTopicOffsets(this.topic);
    // The first offset appended at or after the boundary (the end when none is): everything below is older.
    const window = new Map((await admin.fetchTopicOffsetsByTimestamp(this.topic, boundaryMs)).map((p) => [p.partition, BigInt(p.offset)]));
    const groups = await this.registeredGroups();

    const partitions = planTrim(
      ends.map((e) => ({ partition: e.partition, low: BigInt(e.low) })).sort((a, b) => a.partition - b.partition),
      window,
      groups,
    );
    const deletions = partitions.filter((p) => p.to > p.from).map((p) => ({ partition: p.partition, offset: String(p.to) }));
    const deletedRecords = partitions.reduce((n, p) => n + (p.to - p.from), 0);
    if (deletions.length > 0) await admin.deleteTopicRecords({ topic: this.topic, partitions: deletions });

    const report: TrimReport = {
      topic: this.topic,
      at: new Date(this.now()).toISOString(),
      groups: [...groups.keys()],
      partitions,
      deletedRecords,
    };
    this.last = report;
    const heldByGroups = [...new Set(partitions.filter((p) => p.heldBy !== HOT_WINDOW).map((p) => p.heldBy))];
    if (deletions.length > 0) {
      this.options.logger.info(
        { topic: this.topic, deleted_records: report.deletedRecords, partitions: deletions.length, held_by: heldByGroups },
        'trimmed the event log: records older than the hot window that every registered group has processed',
      );
    } else {
      this.options.logger.debug({ topic: this.topic, held_by: heldByGroups }, 'nothing to trim from the event log');
    }
    return report;
  }
}
