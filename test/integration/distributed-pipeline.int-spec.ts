import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Consumer, Kafka } from 'kafkajs';
import { DLQ_HEADERS, TOPIC_EVENTS, TOPIC_EVENTS_DLQ } from '@app/contracts';
import { BatchResult, newRunId, postEvents, request, SseClient, storedIds, waitForTotal } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';
import { KAFKA_BROKERS } from './support/environment';
import { produceDirect } from './support/kafka-producer';

const exec = promisify(execFile);
const kcatInstalled = spawnSync('kcat', ['-V']).status === 0;

interface ErrorBody {
  error: { code: string; message: string; details: Array<{ field?: string; message: string }> };
}

interface DlqRecord {
  value: string;
  headers: Record<string, string>;
}

/** Reads the DLQ from its start until `wanted` records match, keyed by their source partition:offset. */
async function readDlq(kafka: Kafka, wanted: Set<string>, timeoutMs: number): Promise<Map<string, DlqRecord>> {
  const found = new Map<string, DlqRecord>();
  const consumer: Consumer = kafka.consumer({ groupId: `audit-int-dlq-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [TOPIC_EVENTS_DLQ], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${found.size} of ${wanted.size} DLQ records within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          const source = `${headers[DLQ_HEADERS.sourcePartition]}:${headers[DLQ_HEADERS.sourceOffset]}`;
          if (headers[DLQ_HEADERS.sourceTopic] === TOPIC_EVENTS && wanted.has(source)) {
            found.set(source, { value: message.value?.toString() ?? '', headers });
            if (found.size === wanted.size) {
              clearTimeout(timer);
              resolve();
            }
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return found;
}

describe('distributed deployment: api-gateway, ingest-gateway and query-store as separate processes on Kafka', () => {
  const suite = useClusterSuite({ name: 'pipeline', gateways: 2 });
  const runId = newRunId('pipeline');
  const gw = (i = 0): string => suite.cluster.gatewayUrl(i);

  it('should return events posted through either gateway and events produced directly to Kafka', async () => {
    const single = await postEvents<{ id: string }>(gw(0), { event_type: 'user_login', metadata: { run_id: runId, user_id: 'alice' } });
    expect(single.status).toBe(201);
    const batch = await postEvents<BatchResult>(
      gw(1),
      [1, 2, 3].map((i) => ({ event_type: 'device_registered', metadata: { run_id: runId, device_id: `POS-${i}` } })),
    );
    expect(batch.status).toBe(201);
    const explicitId = randomUUID();
    const direct = await produceDirect(
      suite.producer,
      [
        {
          key: 'site-1',
          value: JSON.stringify({
            event_type: 'transaction_completed',
            category: 'business',
            source: 'payments',
            metadata: { run_id: runId, site_id: 'site-1' },
          }),
        },
        {
          key: 'site-2',
          value: JSON.stringify({ id: explicitId, event_type: 'custom.audit', category: 'compliance', metadata: { run_id: runId } }),
        },
      ],
      (i) => i % 2,
    );
    const expected = [single.body.id, ...batch.body.results.map((r) => r.id), direct[0].derivedId, explicitId];

    await expect(waitForTotal(gw(0), runId, expected.length, 30_000)).resolves.toBe(expected.length);
    expect((await storedIds(gw(1), runId)).sort()).toEqual([...expected].sort());
    const one = await request<{ id: string; source: string; tenant_id: string; received_at: string }>(
      `${gw(1)}/audit/events/${direct[0].derivedId}`,
    );
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: direct[0].derivedId, source: 'payments', tenant_id: 'default' });
    expect(Date.parse(one.body.received_at)).toBeGreaterThan(Date.now() - 600_000);
  });

  // kcat (librdkafka) stands for producers in other languages; it is a Debian package (kcat), skipped where absent.
  (kcatInstalled ? it : it.skip)('should store events from a librdkafka producer whatever codec it compresses with', async () => {
    const codecs = ['lz4', 'zstd', 'snappy', 'none'];
    for (const codec of codecs) {
      // Big enough that librdkafka really compresses it (it sends a batch as it is when that is smaller).
      const value = JSON.stringify({
        event_type: 'device_updated',
        tenant_id: 'default',
        description: `firmware settings changed: ${'volume=3 brightness=7 '.repeat(200)}`,
        metadata: { run_id: runId, device_id: 'POS-7', codec },
      });
      const child = exec(
        'kcat',
        [
          '-P',
          '-b',
          KAFKA_BROKERS,
          '-t',
          TOPIC_EVENTS,
          '-z',
          codec,
          '-X',
          'acks=all',
          '-X',
          'partitioner=murmur2_random',
          '-k',
          'default/POS-7',
        ],
        {
          timeout: 30_000,
        },
      );
      child.child.stdin?.end(`${value}\n`);
      await child;
    }
    await expect(waitForTotal(gw(0), runId, 6 + codecs.length, 30_000)).resolves.toBe(6 + codecs.length);
    const page = await request<{ events: Array<{ metadata: { codec?: string } }> }>(
      `${gw(0)}/audit/events?metadata.run_id=${runId}&event_type=device_updated`,
    );
    expect(page.body.events.map((e) => e.metadata.codec).sort()).toEqual([...codecs].sort());
  });

  it('should send invalid direct messages to the DLQ with the reason and keep consuming after them', async () => {
    const after = randomUUID();
    const produced = await produceDirect(
      suite.producer,
      [
        { value: 'this is not {json' },
        { value: JSON.stringify({ event_type: 'Not A Type!', metadata: { run_id: runId } }) },
        { value: JSON.stringify({ id: after, event_type: 'config_updated', metadata: { run_id: runId, poison: 'after' } }) },
      ],
      () => 2,
    );

    // The valid message behind the two poison ones is stored: the consumer moved past them.
    const before = kcatInstalled ? 10 : 6;
    await expect(waitForTotal(gw(0), runId, before + 1, 30_000)).resolves.toBe(before + 1);
    const stored = await request(`${gw(0)}/audit/events/${after}`);
    expect(stored.status).toBe(200);

    const sources = produced.slice(0, 2).map((p) => `${p.partition}:${p.offset}`);
    const dlq = await readDlq(suite.kafka, new Set(sources), 30_000);
    const notJson = dlq.get(sources[0]);
    const invalid = dlq.get(sources[1]);
    expect(notJson?.value).toBe('this is not {json');
    expect(notJson?.headers[DLQ_HEADERS.errorCode]).toBe('invalid_json');
    expect(invalid?.headers[DLQ_HEADERS.errorCode]).toBe('validation_failed');
    expect(invalid?.headers[DLQ_HEADERS.errorMessage]).toContain('/event_type');
    expect(invalid?.headers[DLQ_HEADERS.sourceTopic]).toBe(TOPIC_EVENTS);
  });

  it('should answer errors raised in the ingest-gateway with the same status, code and details', async () => {
    const empty = await postEvents<ErrorBody>(gw(0), []);
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('validation_failed');
    expect(empty.body.error.message).toBe('the batch is empty');

    const tooMany = await postEvents<ErrorBody>(
      gw(0),
      Array.from({ length: 5001 }, () => ({ event_type: 'user_login' })),
    );
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('batch_too_large');

    const invalid = await postEvents<ErrorBody>(gw(1), { event_type: 'user_login', metadata: { 'bad key!': 1 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.map((d) => d.field)).toContain('/metadata');
  });

  it('should stream live events over SSE from one gateway and resume on another from Last-Event-ID', async () => {
    const filter = `metadata.run_id=${encodeURIComponent(runId)}&event_type=backup_completed`;
    const first = await SseClient.open(`${gw(0)}/audit/events/stream?${filter}`);
    let lastId: string | undefined;
    try {
      expect(first.status).toBe(200);
      expect((await first.next(10_000)).event).toBe('ready');
      const posted = await postEvents<BatchResult>(
        gw(1),
        [1, 2].map((i) => ({ event_type: 'backup_completed', metadata: { run_id: runId, n: i } })),
      );
      expect(posted.status).toBe(201);
      const seen: string[] = [];
      while (seen.length < 2) {
        const m = await first.next(20_000);
        if (m.event !== 'message') continue;
        seen.push((JSON.parse(m.data) as { id: string }).id);
        lastId = m.id;
      }
      // Order holds per partition (per key), not across them: compare as sets.
      expect(seen.sort()).toEqual(posted.body.results.map((r) => r.id).sort());
    } finally {
      first.close();
    }

    const later = await postEvents<{ id: string }>(gw(0), { event_type: 'backup_completed', metadata: { run_id: runId, n: 3 } });
    expect(later.status).toBe(201);
    const resumed = await SseClient.open(`${gw(1)}/audit/events/stream?${filter}`, { 'last-event-id': lastId ?? '' });
    try {
      expect((await resumed.next(10_000)).event).toBe('ready');
      const m = await resumed.next(20_000);
      expect(m.event).toBe('message');
      expect((JSON.parse(m.data) as { id: string }).id).toBe(later.body.id);
    } finally {
      resumed.close();
    }
  });

  it('should serve the web console from the gateway with its CSP and vendored modules', async () => {
    const page = await fetch(`${gw(1)}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('src="/console/app.js"');
    const shim = await (await fetch(`${gw(1)}/console/vendor.js`)).text();
    const uplot = /from '(\/console\/vendor\/uplot@[^']+)'/.exec(shim)?.[1];
    const lib = await fetch(`${gw(1)}${uplot}`);
    expect(lib.status).toBe(200);
    expect(lib.headers.get('cache-control')).toContain('immutable');
    // The console's histogram: the gateway asks the query-store over TCP (audit.query.timeline).
    const timeline = await request<{
      breakdown: string;
      timeline: Array<{ bucket: string; total: number; counts: Record<string, number> }>;
    }>(`${gw(1)}/audit/statistics/timeline?breakdown=severity&hours=6`);
    expect(timeline.status).toBe(200);
    expect(timeline.body.breakdown).toBe('severity');
    expect(timeline.body.timeline).toHaveLength(6);
    // The run's first test stored its events this hour (or the one before, across an hour's edge).
    expect(timeline.body.timeline.slice(-2).reduce((a, b) => a + b.total, 0)).toBeGreaterThanOrEqual(6);
    for (const b of timeline.body.timeline) expect(b.total).toBe(Object.values(b.counts).reduce((x, y) => x + y, 0));
    expect((await request(`${gw(0)}/audit/statistics/timeline?hours=500`)).status).toBe(400);
  });

  it('should answer 503 with Retry-After, never 500, when a service is unreachable', async () => {
    const { cluster } = suite;
    // A graceful stop, so its consumer leaves the group: a killed member would hold its partitions for the
    // session timeout (30 s) and delay the next suite's query-store. The crash suite covers kill -9.
    await cluster.query.stop();
    const search = await request<ErrorBody>(`${gw(0)}/audit/events?metadata.run_id=${runId}`);
    expect(search.status).toBe(503);
    expect(search.body.error.code).toBe('unavailable');
    expect(Number(search.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The gateway can still serve its own part (and writes): readiness does not cascade; status says degraded.
    const ready = await request(`${gw(0)}/health/ready`);
    expect(ready.status).toBe(200);
    const status = await request<{ status: string; components: Record<string, { ok: boolean }> }>(`${gw(0)}/audit/status`);
    expect(status.body.status).toBe('degraded');
    expect(status.body.components.query_store.ok).toBe(false);
    expect(status.body.components.ingest_gateway.ok).toBe(true);

    await cluster.ingest.kill9();
    const post = await postEvents<ErrorBody>(gw(1), { event_type: 'user_login', metadata: { run_id: runId } });
    expect(post.status).toBe(503);
    expect(post.body.error.code).toBe('unavailable');
    expect(Number(post.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
