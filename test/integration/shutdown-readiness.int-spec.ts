import { HEALTH_PATHS } from '@app/common';
import { newRunId, postEvents, request, storedIds, waitForTotal } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Result {
  results?: Array<{ id?: string }>;
  error?: { code: string };
}

describe('Shutdown and readiness of the distributed services', () => {
  const suite = useClusterSuite({ name: 'shutdown' });

  it('should answer every request in hand when the ingest-gateway gets SIGTERM under load: no 5xx for an event it stored', async () => {
    const gw = suite.cluster.gatewayUrl();
    const runId = newRunId('sigterm');
    // Keys of events answered 201, and of events answered with an error; no idempotency key, so a client
    // retry of an event that was stored after all would be a duplicate: exactly what must not happen.
    const acknowledged = new Set<string>();
    const refused = new Set<string>();
    let running = true;
    const client = async (worker: number): Promise<void> => {
      for (let n = 0; running; n++) {
        const keys = Array.from({ length: 400 }, (_, i) => `${worker}-${n}-${i}`);
        const res = await postEvents<Result>(
          gw,
          keys.map((key) => ({ event_type: 'job_progress', metadata: { run_id: runId, key } })),
        ).catch(() => ({ status: 0, body: {} as Result }));
        for (const key of keys) (res.status === 201 ? acknowledged : refused).add(key);
        if (res.status !== 201) await sleep(100);
      }
    };
    const clients = [0, 1, 2, 3, 4, 5].map(client);
    await sleep(1500);
    await suite.cluster.ingest.stop();
    await sleep(500);
    suite.cluster.ingest.start();
    await suite.cluster.ingest.waitUntilReady(suite.cluster.ingestHealthUrl);
    await sleep(1000);
    running = false;
    await Promise.all(clients);

    expect(acknowledged.size).toBeGreaterThan(0);
    expect(refused.size).toBeGreaterThan(0);
    expect(suite.cluster.ingest.logTail(200)).not.toMatch(/did not exit|shutdown did not finish/);
    await waitForTotal(gw, runId, acknowledged.size, 60_000);
    await sleep(1500);
    const ids = await storedIds(gw, runId);
    const storedKeys = new Set<string>();
    for (let offset = 0; offset < ids.length; offset += 1000) {
      const r = await request<{ events: Array<{ metadata: { key: string } }> }>(
        `${gw}/audit/events?metadata.run_id=${runId}&limit=1000&order=asc&offset=${offset}`,
      );
      expect(r.status).toBe(200);
      for (const e of r.body.events) storedKeys.add(e.metadata.key);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...acknowledged].filter((k) => !storedKeys.has(k))).toEqual([]);
    expect([...refused].filter((k) => storedKeys.has(k))).toEqual([]);
  }, 240_000);

  it('should keep the gateway ready while the query-store is down, report it degraded, and keep taking events', async () => {
    const gw = suite.cluster.gatewayUrl();
    const runId = newRunId('ready');
    await suite.cluster.query.stop();
    try {
      const ready = await request<{ status: string }>(`${gw}${HEALTH_PATHS.ready}`);
      expect(ready.status).toBe(200);
      const status = await request<{ status: string; components: Record<string, { ok: boolean; required: boolean }> }>(
        `${gw}/audit/status`,
      );
      expect(status.status).toBe(200);
      expect(status.body.status).toBe('degraded');
      expect(status.body.components.query_store).toMatchObject({ ok: false, required: false });
      expect(status.body.components.ingest_gateway).toMatchObject({ ok: true, required: false });
      const posted = await postEvents(gw, { event_type: 'job_created', metadata: { run_id: runId } });
      expect(posted.status).toBe(201);
      const search = await request<{ error: { code: string } }>(`${gw}/audit/events?metadata.run_id=${runId}`);
      expect(search.status).toBe(503);
    } finally {
      suite.cluster.query.start();
      await suite.cluster.query.waitUntilReady(suite.cluster.queryHealthUrl);
    }
    expect(await waitForTotal(gw, runId, 1, 60_000)).toBe(1);
  }, 180_000);
});
