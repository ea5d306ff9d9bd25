import { randomUUID } from 'node:crypto';
import { TOPIC_EVENTS } from '@app/contracts';
import { BatchResult, newRunId, postEvents, request, storedIds, storedTotal, waitForTotal } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';
import { produceDirect } from './support/kafka-producer';

const GATEWAY_EVENTS = 60_000;
const GATEWAY_BATCH = 2500;
const GATEWAY_CONCURRENCY = 3;
const DIRECT_EVENTS = 40_000;
const DIRECT_BATCH = 1000;
/** The query-store is killed once this many of the run's events are queryable: mid-stream, with a backlog. */
const KILL_AT_STORED = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('query-store killed with SIGKILL in the middle of a stream', () => {
  const suite = useClusterSuite({ name: 'crash' });
  const runId = newRunId('crash');

  it('should hold every acknowledged event exactly once after a kill -9 and a restart', async () => {
    const c = suite.cluster;
    const { kafka, producer } = suite;
    const gw = c.gatewayUrl();
    const acked = new Set<string>();
    const admin = kafka.admin();
    await admin.connect();
    const [topic] = (await admin.fetchTopicMetadata({ topics: [TOPIC_EVENTS] })).topics;
    await admin.disconnect();
    const partitions = topic.partitions.length;

    const started = Date.now();
    const viaGateway = async (worker: number): Promise<void> => {
      for (let b = worker; b * GATEWAY_BATCH < GATEWAY_EVENTS; b += GATEWAY_CONCURRENCY) {
        const events = Array.from({ length: GATEWAY_BATCH }, (_, i) => ({
          event_type: 'device_health_check',
          description: 'periodic health check of a POS terminal',
          metadata: {
            run_id: runId,
            device_id: `POS-${(b * GATEWAY_BATCH + i) % 500}`,
            site_id: `site-${i % 20}`,
            cpu: i % 100,
            seq: b * GATEWAY_BATCH + i,
          },
        }));
        const res = await postEvents<BatchResult>(gw, events);
        if (res.status !== 201) throw new Error(`POST answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
        for (const r of res.body.results) if (r.id) acked.add(r.id);
      }
    };
    const direct = async (): Promise<void> => {
      for (let b = 0; b * DIRECT_BATCH < DIRECT_EVENTS; b++) {
        // Half carry their own id; the other half get one derived from their partition and offset.
        const ids = Array.from({ length: DIRECT_BATCH }, (_, i) => (i % 2 === 0 ? randomUUID() : undefined));
        const messages = ids.map((id, i) => ({
          key: `site-${i % 20}`,
          value: JSON.stringify({
            id,
            event_type: 'transaction_completed',
            category: 'business',
            source: 'payments',
            metadata: { run_id: runId, site_id: `site-${i % 20}`, amount: i },
          }),
        }));
        const positions = await produceDirect(producer, messages, (i) => (b + i) % partitions);
        ids.forEach((id, i) => acked.add(id ?? positions[i].derivedId));
      }
    };
    const load = Promise.all([...Array.from({ length: GATEWAY_CONCURRENCY }, (_, w) => viaGateway(w)), direct()]);
    let loadDone = false;
    void load.then(
      () => (loadDone = true),
      () => (loadDone = true),
    );

    let storedAtKill = 0;
    while (storedAtKill < KILL_AT_STORED) {
      if (loadDone) break;
      storedAtKill = (await storedTotal(gw, runId)) ?? 0;
      await sleep(200);
    }
    await c.query.kill9();
    const killedAt = Date.now();
    await load;
    const produceSeconds = (Date.now() - started) / 1000;
    expect(acked.size).toBe(GATEWAY_EVENTS + DIRECT_EVENTS);
    expect(storedAtKill).toBeLessThan(acked.size);

    await sleep(1000);
    c.query.start();
    await c.query.waitUntilReady(c.queryHealthUrl);
    const restarted = Date.now();
    const total = await waitForTotal(gw, runId, acked.size, 240_000);
    const caughtUp = Date.now();
    expect(total).toBe(acked.size);

    const ids = await storedIds(gw, runId);
    const listed = Date.now();
    const unique = new Set(ids);
    expect(ids.length).toBe(acked.size);
    expect(unique.size).toBe(ids.length);
    expect([...acked].filter((id) => !unique.has(id))).toEqual([]);

    const metrics = await request<string>(c.queryMetricsUrl);
    const duplicatesDropped = metric(metrics.body, 'audit_consumer_rows_total', 'outcome="duplicate"');
    console.info(
      `crash test: ${acked.size} events acknowledged in ${produceSeconds.toFixed(1)} s (${Math.round(acked.size / produceSeconds)}/s); ` +
        `killed with ${storedAtKill} stored, ${((killedAt - started) / 1000).toFixed(1)} s in; restarted store caught up ${acked.size - storedAtKill}+ events ` +
        `in ${((caughtUp - restarted) / 1000).toFixed(1)} s (restart to ready ${((restarted - killedAt) / 1000).toFixed(1)} s); ` +
        `listing all ids took ${((listed - caughtUp) / 1000).toFixed(1)} s; redelivered duplicates dropped after restart: ${duplicatesDropped}`,
    );
  }, 600_000);
});
