import { execFileSync } from 'node:child_process';
import { bootApp, eventually, http, TestApp, waitForTotal } from './support/embedded-app';

describe('operations endpoints (embedded app)', () => {
  let app: TestApp;
  afterEach(async () => app?.close());

  it("should answer the guide's curls on a fresh start, and optimise only on POST, as an audited admin action", async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
    // The guide's curls, verbatim (no method, no body).
    const curl = (p: string) => JSON.parse(execFileSync('curl', ['-s', `${app.url}${p}`], { encoding: 'utf8' }));
    const fresh = curl('/audit/performance');
    expect(fresh.store.hot_window_days).toBe(7);
    expect(typeof fresh.store.log_bytes).toBe('number');
    expect(fresh.store.consumer_lag).toHaveProperty(['audit.query-store.v1']);
    expect(fresh.store.consumer_lag).toHaveProperty(['audit.integrity.v1']);
    expect(curl('/audit/optimize').dry_run).toBe(true);

    // given events inserted in several batches (several parts)
    for (let i = 0; i < 3; i++) {
      const r = await http(`${app.url}/audit/events`, {
        method: 'POST',
        json: Array.from({ length: 10 }, () => ({ event_type: 'user_login' })),
      });
      expect(r.status).toBe(201);
      await waitForTotal(app.url, 'event_type=user_login', 10 * (i + 1));
    }
    const perf = await http(`${app.url}/audit/performance`);
    const events = perf.body.store.tables.find((t: { table: string }) => t.table === 'events');
    expect(events.rows).toBeGreaterThanOrEqual(30);
    expect(events.active_parts).toBeGreaterThan(1);
    expect(events.compression_ratio).toBeGreaterThan(0);
    expect(perf.body.ingest.events_accepted).toBe(30);
    expect(perf.body.query_latency_ms.requests).toBeGreaterThan(0);
    expect(perf.body.query_latency_ms.p99).toBeGreaterThan(0);

    // when GET /audit/optimize: a plan, nothing done
    const plan = await http(`${app.url}/audit/optimize`);
    expect(plan.body.actions).toContainEqual(expect.objectContaining({ action: 'merge_parts', table: 'events' }));
    // the ingest side's step too: the idempotency keys past their 24 h window (none in a fresh store)
    expect(plan.body.actions).toContainEqual({
      action: 'expire_idempotency_keys',
      reason: expect.stringMatching(/^0 idempotency key\(s\) older than their 24 h window would be deleted/),
    });
    expect(plan.body.done).toBeUndefined();
    // (That the GET merged nothing shows below: the POST's job still finds the parts to merge.)

    // when POST: a job, 202 at once with its status URL; merged when done, and recorded
    const started = await http(`${app.url}/audit/optimize`, { method: 'POST' });
    expect(started.status).toBe(202);
    expect(started.headers.get('location')).toBe(started.body.status_url);
    expect(started.body).toMatchObject({ state: 'running', progress: { phases_total: 2 }, result: null });
    // One at a time: a second POST while it runs names the running one.
    const second = await http(`${app.url}/audit/optimize`, { method: 'POST' });
    if (second.status !== 202)
      expect([second.status, second.body.error.message]).toEqual([409, expect.stringContaining(started.body.status_url)]);
    const job = await eventually(async () => {
      const r = await http(`${app.url}${started.body.status_url as string}`);
      expect(r.status).toBe(200);
      if (r.body.state === 'failed') throw new Error(`optimisation failed: ${r.body.error}`);
      return r.body.state === 'done' ? r.body : undefined;
    });
    expect(job.progress).toEqual({ phases_done: 2, phases_total: 2, phase: null });
    expect(job.finished_at).not.toBeNull();
    const done = { body: job.result };
    expect(done.body.done.merged).toContain('events');
    expect(done.body.done.expired_idempotency_keys).toBe(0);
    expect((await http(`${app.url}/audit/optimize/jobs/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
    // The parts, counted by the job around its merges: one per partition after, and at most one more (the
    // job's own "started" record may be inserted while it merges). Counted later from outside, the job's
    // records and the engine's own background merges would make any bound a race.
    const parts = done.body.done.parts.find((p: { table: string }) => p.table === 'events');
    expect(parts.parts_before).toBeGreaterThan(parts.partitions + 1); // unmerged by the GET's dry run
    expect(parts.parts_after).toBeLessThanOrEqual(parts.partitions + 1);
    const audited = await eventually(async () => {
      const r = await http(`${app.url}/audit/events?event_type=admin_action&metadata.job_id=${job.id as string}&metadata.outcome=done`);
      return r.body.total > 0 ? r.body.events[0] : undefined;
    });
    expect(audited.metadata).toMatchObject({
      action: 'optimize',
      expired_idempotency_keys: 0,
      merged_tables: expect.stringContaining('events'),
    });
    const asked = await http(
      `${app.url}/audit/events?event_type=admin_action&metadata.job_id=${job.id as string}&metadata.outcome=started`,
    );
    expect(asked.body.total).toBe(1);
    // Nothing is taken that these endpoints do not read: refused, not silently ignored.
    const badQuery = await http(`${app.url}/audit/optimize?tables=nope`);
    expect([badQuery.status, badQuery.body.error.code, badQuery.body.error.details[0].field]).toEqual([400, 'invalid_query', 'tables']);
    const badBody = await http(`${app.url}/audit/optimize`, { method: 'POST', json: { tables: ['nope'] } });
    expect([badBody.status, badBody.body.error.details[0].field]).toEqual([400, '/tables']);
    expect((await http(`${app.url}/audit/performance?x=1`)).status).toBe(400);
  });
});
