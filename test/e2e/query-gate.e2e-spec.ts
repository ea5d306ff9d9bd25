import { bootApp, eventually, http, TestApp, waitForTotal } from './support/embedded-app';

async function metric(url: string, name: string): Promise<number> {
  const text = (await http(`${url}/metrics`)).body as string;
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('store queries from the HTTP API under load', () => {
  let app: TestApp;
  const EVENTS = 20_000;
  // A text search that matches nothing reads every description: tens of milliseconds each, one at a time.
  const SLOW = '/audit/events?limit=1000&q=no-such-text-anywhere';

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_QUERY_CONCURRENCY: '1', AUDIT_QUERY_QUEUE: '20' });
    const pad = 'lorem ipsum '.repeat(100);
    for (let from = 0; from < EVENTS; from += 4000) {
      const batch = Array.from({ length: 4000 }, (_, i) => ({ event_type: 'job_started', description: pad, metadata: { n: from + i } }));
      expect((await http(`${app.url}/audit/events`, { method: 'POST', json: batch })).status).toBe(201);
    }
    await waitForTotal(app.url, 'event_type=job_started&limit=1', EVENTS, 60_000);
  }, 120_000);

  afterAll(async () => {
    await app.close();
  });

  it('should answer ingest and the live probe while queries wait, and refuse queries beyond the queue with 503 and Retry-After', async () => {
    let pending = 0;
    const queries = Array.from({ length: 40 }, async () => {
      pending++;
      try {
        return await http(`${app.url}${SLOW}`);
      } finally {
        pending--;
      }
    });
    await eventually(async () => ((await metric(app.url, 'audit_query_gate_total{outcome="queued"}')) >= 20 ? true : undefined));

    const post = await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'login_success' } });
    const pendingAtPost = pending;
    const live = await http(`${app.url}/health/live`);
    const pendingAtLive = pending;
    expect(post.status).toBe(201);
    expect(live.status).toBe(200);
    // One query runs at a time and twenty wait: ingest and the probe do not queue behind them.
    expect(pendingAtPost).toBeGreaterThan(0);
    expect(pendingAtLive).toBeGreaterThan(0);

    const results = await Promise.all(queries);
    const refused = results.filter((r) => r.status === 503);
    // At least one running and twenty waiting were served; a query finishing while the others still arrive
    // frees a place, so a few more may be; beyond that the gate refuses rather than queueing without end.
    expect(results.filter((r) => r.status === 200).length + refused.length).toBe(40);
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(21);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].headers.get('retry-after')).toBe('1');
    expect(refused[0].body.error.code).toBe('unavailable');
    expect(refused[0].body.error.message).toContain('AUDIT_QUERY_QUEUE');
  }, 60_000);

  it('should drop a waiting query whose client went away', async () => {
    const before = await metric(app.url, 'audit_query_gate_total{outcome="cancelled"}');
    const queuedBefore = await metric(app.url, 'audit_query_gate_total{outcome="queued"}');
    // Ten queries ahead (one runs, nine wait): the abandoned ones still wait when their clients' closes
    // reach the server, however loaded the machine is.
    const ahead = Array.from({ length: 10 }, () => http(`${app.url}${SLOW}`));
    await eventually(async () =>
      (await metric(app.url, 'audit_query_gate_total{outcome="queued"}')) >= queuedBefore + 9 ? true : undefined,
    );
    const gone = Array.from({ length: 5 }, () => new AbortController());
    const abandoned = gone.map((ac) => fetch(`${app.url}${SLOW}`, { signal: ac.signal }).catch((e: Error) => e.name));
    await eventually(async () =>
      (await metric(app.url, 'audit_query_gate_total{outcome="queued"}')) >= queuedBefore + 14 ? true : undefined,
    );
    for (const ac of gone) ac.abort();
    expect(await Promise.all(abandoned)).toEqual(Array(5).fill('AbortError'));
    expect((await Promise.all(ahead)).map((r) => r.status)).toEqual(Array(10).fill(200));
    await eventually(async () => ((await metric(app.url, 'audit_query_gate_total{outcome="cancelled"}')) >= before + 5 ? true : undefined));
  });
});
