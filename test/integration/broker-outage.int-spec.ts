import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BatchResult, newRunId, postEvents, storedIds } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';
import { ROOT } from './support/environment';

const exec = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs scripts/kafka.sh without blocking the event loop: the load keeps running meanwhile. */
async function kafkaScript(command: 'kill9' | 'start'): Promise<void> {
  await exec('bash', ['scripts/kafka.sh', command], { cwd: ROOT, timeout: 240_000 });
}

type Phase = 'up' | 'down' | 'restarting' | 'recovered';

interface Outcome {
  phase: Phase;
  status: number;
  retryAfter: number | null;
  ms: number;
  code?: string;
  message?: string;
}

describe('Kafka broker stopped during ingestion', () => {
  // Whatever happened in the test, later suites need the broker back.
  const suite = useClusterSuite({ name: 'outage' }, { beforeStop: () => kafkaScript('start'), stopTimeoutMs: 300_000 });
  const runId = newRunId('outage');

  it('should answer 503 with Retry-After while the broker is down, recover after it restarts, and lose nothing acknowledged', async () => {
    const gw = suite.cluster.gatewayUrl();
    const sent = new Set<string>();
    const acked = new Set<string>();
    const outcomes: Outcome[] = [];
    let phase: Phase = 'up';
    let running = true;

    const client = async (worker: number): Promise<void> => {
      for (let n = 0; running; n++) {
        const events = Array.from({ length: 20 }, (_, i) => {
          const key = `${worker}-${n}-${i}`;
          sent.add(key);
          return { event_type: 'job_progress', idempotency_key: `${runId}-${key}`, metadata: { run_id: runId, key } };
        });
        const at = phase;
        const res = await postEvents<BatchResult & { error?: { code: string; message: string } }>(gw, events);
        const retryAfter = res.headers.get('retry-after');
        outcomes.push({
          phase: at,
          status: res.status,
          retryAfter: retryAfter === null ? null : Number(retryAfter),
          ms: res.ms,
          code: res.body.error?.code,
          message: res.body.error?.message,
        });
        if (res.status === 201) {
          for (const r of res.body.results) if (r.id) acked.add(r.id);
        } else {
          // A well-behaved client waits as told; capped so the test observes the recovery promptly.
          await sleep(Math.min(2000, 1000 * Number(retryAfter ?? 1)));
        }
      }
    };
    const clients = [client(0), client(1)];

    await sleep(2000);
    phase = 'down';
    await kafkaScript('kill9');
    await sleep(6000);
    phase = 'restarting';
    await kafkaScript('start');
    phase = 'recovered';
    const deadline = Date.now() + 90_000;
    while (outcomes.filter((o) => o.phase === 'recovered' && o.status === 201).length < 5 && Date.now() < deadline) await sleep(200);
    running = false;
    await Promise.all(clients);

    const byStatus = (s: number): Outcome[] => outcomes.filter((o) => o.status === s);
    expect(outcomes.filter((o) => o.status !== 201 && o.status !== 503)).toEqual([]);
    expect(byStatus(201).filter((o) => o.phase === 'up').length).toBeGreaterThan(0);
    const unavailable = byStatus(503);
    expect(unavailable.filter((o) => o.phase === 'down').length).toBeGreaterThan(0);
    expect(unavailable.filter((o) => o.retryAfter === null || !(o.retryAfter >= 1))).toEqual([]);
    // The ingest-gateway's own UnavailableError, carried over TCP: not a transport failure of the gateway.
    expect(unavailable.filter((o) => o.code !== 'unavailable')).toEqual([]);
    expect(unavailable.filter((o) => !/Kafka/.test(o.message ?? ''))).toEqual([]);
    expect(Math.max(...unavailable.map((o) => o.ms))).toBeLessThan(10_000);
    expect(byStatus(201).filter((o) => o.phase === 'recovered').length).toBeGreaterThanOrEqual(5);

    // Everything acknowledged reaches the store once the consumer is back, and nothing appears twice. More
    // than the acknowledged may appear: a write can succeed after its 503 (a retry with the same idempotency
    // key would then be a harmless duplicate).
    const storeDeadline = Date.now() + 120_000;
    let ids: string[] = [];
    let missing = [...acked];
    while (Date.now() < storeDeadline) {
      ids = await storedIds(gw, runId).catch(() => ids);
      const present = new Set(ids);
      missing = [...acked].filter((id) => !present.has(id));
      if (missing.length === 0) break;
      await sleep(1000);
    }
    expect(missing).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    console.info(
      `broker outage: ${acked.size} events acknowledged, ${ids.length} stored; ` +
        `${unavailable.length} requests answered 503 (slowest ${Math.max(...unavailable.map((o) => o.ms))} ms, ` +
        `first one ${unavailable.find((o) => o.phase === 'down')?.ms ?? '-'} ms); ${outcomes.length} requests in all`,
    );
  }, 300_000);
});
