import { DLQ_HEADERS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { BusRecord, EventBus } from '@app/event-bus';
import { newRunId } from './audit-api';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads until `done` says so; fails with the last value after `timeoutMs`. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

/**
 * What the DLQ holds for `sourceTopic` after the consumer's publish, read by a fresh group: at least `atLeast`
 * records (waited for), and then whatever else arrives within 300 ms, so a test can say there is no second one.
 */
export async function dlqRecords(bus: EventBus, sourceTopic: string, atLeast: number): Promise<BusRecord[]> {
  const records: BusRecord[] = [];
  const sub = await bus.subscribe(
    `dlq-reader-${newRunId('r')}`,
    async (b) => void records.push(...b.records.filter((r) => r.headers[DLQ_HEADERS.sourceTopic] === sourceTopic)),
    { topic: TOPIC_EVENTS_DLQ, fromBeginning: true },
  );
  try {
    await until(
      async () => records.length,
      (n) => n >= atLeast,
      30_000,
      'the DLQ records',
    );
    await sleep(300);
  } finally {
    await sub.close();
  }
  return records;
}
