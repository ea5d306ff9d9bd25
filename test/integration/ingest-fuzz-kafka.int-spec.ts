import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Consumer } from 'kafkajs';
import { DLQ_HEADERS, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { asReadBack, fuzzEvent, fuzzRuns, toJsonText } from '../e2e/support/fuzz-events';
import { request } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';
import { produceDirect } from './support/kafka-producer';

interface StoredEvent {
  id: string;
  source: string;
  event_type: string;
  description: string;
  user_agent: string;
  session_id: string;
  severity: string;
  metadata: unknown;
}

/** A raw message value as a careless or hostile producer sends it, and the event it meant, when it is one. */
interface RawMessage {
  value: Buffer;
  event?: Record<string, unknown>;
}

const garbage: fc.Arbitrary<RawMessage> = fc
  .oneof(
    fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    fc.constant(Buffer.alloc(0)),
    fc.constant(Buffer.from([0x7b, 0x22, 0x65, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
    fc.constantFrom(
      '{"event_type":"login_failed","event_type":"logout"}',
      '{"event_type":"login_failed","metadata":{"k":1,"k":1}}',
      '[{"event_type":"login_failed"}]',
      '"login_failed"',
      'null',
      `{"event_type":"login_failed","metadata":${'['.repeat(200)}${']'.repeat(200)}}`,
      `{"event_type":"login_failed","description":"${'x'.repeat(70 * 1024)}"}`,
    ),
    fuzzEvent.map((e) => toJsonText(e).slice(0, -3)),
  )
  .map((v) => ({ value: typeof v === 'string' ? Buffer.from(v) : v }));

/** Events named by a unique `source`; a tenant, when the generator gave one, is the one the test reads. */
const event: fc.Arbitrary<RawMessage> = fuzzEvent.map((e) => {
  const ev: Record<string, unknown> = { ...e, source: `fuzz:${randomUUID()}` };
  if (ev.tenant_id !== undefined) ev.tenant_id = 'default';
  return { value: Buffer.from(toJsonText(ev)), event: ev };
});

describe('direct Kafka messages under random input', () => {
  const suite = useClusterSuite({ name: 'fuzz' });
  let dlqConsumer: Consumer | undefined;
  /** DLQ records seen, by source partition:offset, with their error code. */
  const dlq = new Map<string, string>();

  beforeAll(async () => {
    dlqConsumer = suite.kafka.consumer({ groupId: `audit-int-fuzz-dlq-${randomUUID()}` });
    await dlqConsumer.connect();
    await dlqConsumer.subscribe({ topics: [TOPIC_EVENTS_DLQ], fromBeginning: true });
    await dlqConsumer.run({
      eachMessage: async ({ message }) => {
        const h = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        if (h[DLQ_HEADERS.sourceTopic] === TOPIC_EVENTS) {
          dlq.set(`${h[DLQ_HEADERS.sourcePartition]}:${h[DLQ_HEADERS.sourceOffset]}`, h[DLQ_HEADERS.errorCode] ?? '');
        }
      },
    });
  }, 60_000);

  afterAll(async () => {
    await dlqConsumer?.disconnect();
  });

  it('should store each message by id or send it to the DLQ with a reason: none lost, none wedging the store', async () => {
    const seed = Date.now();
    const messages = fc.sample(fc.oneof({ weight: 4, arbitrary: event }, { weight: 1, arbitrary: garbage }), {
      numRuns: fuzzRuns(300),
      seed,
    });
    const gw = suite.cluster.gatewayUrl(0);
    const produced: Awaited<ReturnType<typeof produceDirect>> = [];
    // A few sends, as producers batch; spread over the partitions.
    for (let i = 0; i < messages.length; i += 50) {
      const chunk = messages.slice(i, i + 50);
      produced.push(
        ...(await produceDirect(
          suite.producer,
          chunk.map((m) => ({ value: m.value })),
          (j) => (i + j) % 6,
        )),
      );
    }

    const pending = new Set(messages.map((_, i) => i));
    const stored = new Map<number, StoredEvent>();
    const deadline = Date.now() + 120_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const i of [...pending]) {
        const p = produced[i];
        if (dlq.has(`${p.partition}:${p.offset}`)) {
          pending.delete(i);
          continue;
        }
        const r = await request<StoredEvent>(`${gw}/audit/events/${p.derivedId}`);
        if (r.status === 200) {
          stored.set(i, r.body);
          pending.delete(i);
        }
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
    }
    const lost = [...pending].map((i) => ({ seed, index: i, value: messages[i].value.toString('utf8').slice(0, 200) }));
    expect(lost).toEqual([]);

    for (const [i, got] of stored) {
      const m = messages[i];
      const where = `${produced[i].partition}:${produced[i].offset}`;
      // Stored, so not refused too; and only events are stored.
      expect({ where, dlq: dlq.get(where) }).toEqual({ where, dlq: undefined });
      expect(m.event).toBeDefined();
      const sent = asReadBack(m.event) as Record<string, unknown>;
      expect(got.source).toBe(sent.source);
      expect(got.event_type).toBe(sent.event_type);
      expect(got.metadata).toEqual(sent.metadata ?? {});
      for (const field of ['description', 'user_agent', 'session_id', 'severity'] as const) {
        if (sent[field] !== undefined) expect(got[field]).toBe(sent[field]);
      }
    }
    for (const [i, p] of produced.entries()) {
      const code = dlq.get(`${p.partition}:${p.offset}`);
      if (code !== undefined) expect(['invalid_json', 'validation_failed', 'payload_too_large']).toContain(code);
      else expect(stored.has(i)).toBe(true);
    }
    expect(stored.size).toBeGreaterThan(0);
    expect(stored.size).toBeLessThan(messages.length);

    // Not wedged: an ordinary event behind all of them is stored.
    const [after] = await produceDirect(
      suite.producer,
      [{ value: JSON.stringify({ event_type: 'login_failed', source: 'fuzz:after' }) }],
      () => 0,
    );
    let visible = 0;
    for (const until = Date.now() + 30_000; Date.now() < until && visible !== 200;) {
      visible = (await request(`${gw}/audit/events/${after.derivedId}`)).status;
      if (visible !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(visible).toBe(200);
  }, 300_000);
});
