import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bootApp, eventually, http, TestApp, waitForTotal } from './support/embedded-app';

const NOW = '2026-12-02T12:00:00Z';
/** Small batches and a pause after each, so a kill -9 lands in the middle of a job; a short lease, so the restart takes it up soon. */
const ENV = {
  AUDIT_SELF_AUDIT_READS: 'false',
  AUDIT_RETENTION_NOW: NOW,
  AUDIT_RETENTION_CHANGE_DELAY_HOURS: '0',
  AUDIT_RETENTION_TEST_PAUSE_MS: '300',
  AUDIT_RETENTION_BATCH_SIZE: '5',
  AUDIT_RETENTION_JOB_LEASE_SECONDS: '2',
  AUDIT_RETENTION_STORAGE_RETRY_SECONDS: '1',
};

interface Job {
  id: string;
  state: string;
  phase: string;
  done: number;
  expected: number;
  attempts: number;
  error: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  result: any;
}

interface Manifest {
  id: string;
  day: string;
  object_key: string;
  object_sha256: string;
  plaintext_sha256: string;
  event_count: number;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function jobOf(app: TestApp, id: string): Promise<Job> {
  const r = await http(`${app.url}/audit/retention/jobs/${id}`);
  expect(r.status).toBe(200);
  return r.body as Job;
}

/** Posts a job, waits until it is in `phase` with some but not all of its work done, and kills the process. */
async function killDuring(app: TestApp, p: string, phase: string): Promise<Job> {
  const queued = await http(`${app.url}${p}`, { method: 'POST', json: {} });
  expect(queued.status).toBe(202);
  const seen = await eventually(
    async () => {
      const j = await jobOf(app, queued.body.id);
      return j.phase === phase && j.done > 0 && j.done < j.expected ? j : undefined;
    },
    30_000,
    `job in ${phase}, part done`,
  );
  await app.kill9();
  return seen;
}

async function finished(app: TestApp, id: string): Promise<Job> {
  const j = await eventually(
    async () => {
      const job = await jobOf(app, id);
      return job.state === 'succeeded' || job.state === 'failed' ? job : undefined;
    },
    60_000,
    `job ${id} to finish after the restart`,
  );
  expect(j).toMatchObject({ state: 'succeeded', error: null, phase: 'done' });
  return j;
}

/** Every stored id (of the user_login events) between two instants. */
async function hotIds(app: TestApp, from: string, to: string): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await http(`${app.url}/audit/events?event_type=user_login&start=${from}&end=${to}&limit=1000&offset=${offset}&order=asc`);
    expect(r.status).toBe(200);
    ids.push(...r.body.events.map((e: { id: string }) => e.id));
    if (r.body.next_offset === null) return ids;
  }
}

/** Every archive, checked against its manifest (object and plaintext SHA-256, count), with the ids it holds. */
async function archivedIds(app: TestApp): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const m of (await http(`${app.url}/audit/archives`)).body.archives as Manifest[]) {
    const object = readFileSync(path.join(app.dataDir, 'objects', ...m.object_key.split('/')));
    expect(sha256(object)).toBe(m.object_sha256);
    const plain = gunzipSync(object);
    expect(sha256(plain)).toBe(m.plaintext_sha256);
    const ids = plain
      .toString()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ids).toHaveLength(m.event_count);
    out.set(m.day, ids);
  }
  return out;
}

const days = (prefix: string, n: number, perDay: number): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, d) =>
    Array.from({ length: perDay }, (_, i) => ({
      event_type: 'user_login',
      timestamp: `${prefix}-0${d + 1}T${String(i % 24).padStart(2, '0')}:00:00Z`,
      metadata: { d, i },
    })),
  ).flat();

describe('retention jobs across kill -9 (embedded)', () => {
  let app: TestApp;

  afterAll(async () => {
    await app?.close();
  });

  it('should lose nothing and duplicate nothing when killed during an archive run, a restore and a delete', async () => {
    app = await bootApp(ENV);
    // A: six days due for archive, 20 events each; C: recent, stays online throughout.
    const a = await http(`${app.url}/audit/events`, { method: 'POST', json: days('2025-06', 6, 20) });
    const c = await http(`${app.url}/audit/events`, { method: 'POST', json: days('2026-11', 1, 10) });
    expect([a.status, c.status]).toEqual([201, 201]);
    const aIds: string[] = a.body.results.map((r: { id: string }) => r.id);
    const cIds: string[] = c.body.results.map((r: { id: string }) => r.id);
    await waitForTotal(app.url, 'event_type=user_login', 130);
    const set = await http(`${app.url}/audit/retention`, {
      method: 'POST',
      json: { retention_days: 2555, archive_after_days: 365, compress_archives: true, encryption_required: false },
    });
    expect(set.status).toBe(201);

    // 1. Killed while archiving: some days have their archive, none has left the query store yet.
    const archiving = await killDuring(app, '/audit/retention/run', 'archiving');
    app = await bootApp(ENV, app.dataDir);
    const run = await finished(app, archiving.id);
    expect(run.attempts).toBe(2);
    expect(run.result.offloaded).toEqual({ events: 120, days: 6, from: '2025-06-01', to: '2025-06-06' });
    await waitForTotal(app.url, 'event_type=user_login', 10);
    let archives = await archivedIds(app);
    expect([...archives.keys()]).toEqual(['2025-06-01', '2025-06-02', '2025-06-03', '2025-06-04', '2025-06-05', '2025-06-06']);
    const archived = [...archives.values()].flat();
    expect(archived.sort()).toEqual([...aIds].sort());
    expect(await hotIds(app, '2025-06-01T00:00:00Z', '2025-06-30T23:59:59Z')).toEqual([]);
    expect((await hotIds(app, '2026-11-01T00:00:00Z', '2026-11-30T23:59:59Z')).sort()).toEqual([...cIds].sort());

    // 2. Killed while restoring one archive (20 events, batches of 5): the restart resumes it, each event once.
    const m = ((await http(`${app.url}/audit/archives`)).body.archives as Manifest[]).find((x) => x.day === '2025-06-03')!;
    const restoring = await killDuring(app, `/audit/archives/${m.id}/restore`, 'restoring');
    expect(restoring.expected).toBe(20);
    app = await bootApp(ENV, app.dataDir);
    const restore = await finished(app, restoring.id);
    expect(restore.attempts).toBe(2);
    expect(restore.result).toMatchObject({ archive_id: m.id, events: 20 });
    await waitForTotal(app.url, 'event_type=user_login', 30);
    const back = await hotIds(app, '2025-06-03T00:00:00Z', '2025-06-03T23:59:59Z');
    expect(back).toHaveLength(20);
    expect([...back].sort()).toEqual([...archives.get('2025-06-03')!].sort());
    const stats = await http(`${app.url}/audit/statistics/detailed`);
    expect(stats.body.events_by_event_type.user_login).toBe(30);

    // 3. Killed while deleting days past retention: every day is removed whole, what is not due stays.
    const b = await http(`${app.url}/audit/events`, { method: 'POST', json: days('2019-03', 4, 10) });
    expect(b.status).toBe(201);
    await waitForTotal(app.url, 'event_type=user_login', 70);
    const deleting = await killDuring(app, '/audit/retention/run', 'deleting');
    app = await bootApp(ENV, app.dataDir);
    const del = await finished(app, deleting.id);
    expect(del.attempts).toBe(2);
    await waitForTotal(app.url, 'event_type=user_login', 30);
    expect(await hotIds(app, '2019-01-01T00:00:00Z', '2019-12-31T23:59:59Z')).toEqual([]);
    expect((await hotIds(app, '2026-11-01T00:00:00Z', '2026-11-30T23:59:59Z')).sort()).toEqual([...cIds].sort());
    expect(await hotIds(app, '2025-06-03T00:00:00Z', '2025-06-03T23:59:59Z')).toHaveLength(20);
    archives = await archivedIds(app);
    expect([...archives.values()].flat().sort()).toEqual([...aIds].sort());
    const after = await http(`${app.url}/audit/statistics/detailed`);
    expect(after.body.events_by_event_type.user_login).toBe(30);
  }, 240_000);
});

describe('retention while the object store fails (embedded)', () => {
  it('should pause the run, report the store in /audit/status and metrics, remove nothing, and finish once the store is back', async () => {
    const app = await bootApp(ENV);
    try {
      const posted = await http(`${app.url}/audit/events`, { method: 'POST', json: days('2025-06', 2, 5) });
      expect(posted.status).toBe(201);
      await waitForTotal(app.url, 'event_type=user_login', 10);
      expect(
        (
          await http(`${app.url}/audit/retention`, {
            method: 'POST',
            json: { retention_days: 2555, archive_after_days: 365, compress_archives: true, encryption_required: false },
          })
        ).status,
      ).toBe(201);
      // The store's root turned into a file: every write fails (as root too, unlike a read-only directory).
      const root = path.join(app.dataDir, 'objects');
      rmSync(root, { recursive: true, force: true });
      writeFileSync(root, 'not a directory');

      const queued = await http(`${app.url}/audit/retention/run`, { method: 'POST', json: {} });
      expect(queued.status).toBe(202);
      const waiting = await eventually(async () => {
        const j = await jobOf(app, queued.body.id);
        return j.phase === 'waiting_for_storage' ? j : undefined;
      });
      expect(waiting).toMatchObject({ state: 'running', error: expect.stringContaining('object store write of archives/') });
      const status = await http(`${app.url}/audit/status`);
      expect(status.body.status).toBe('degraded');
      expect(status.body.components.retention).toMatchObject({
        ok: false,
        detail: { object_store: { ok: false, kind: 'directory', error: expect.stringContaining('object store write') } },
      });
      const metrics = (await http(`${app.url}/metrics`)).body as string;
      expect(Number(/^audit_retention_storage_errors_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
      expect(metrics).not.toMatch(/^audit_retention_last_success_timestamp_seconds\{kind="run"\}/m);
      // Nothing left the query store, nothing was recorded as archived.
      await waitForTotal(app.url, 'event_type=user_login', 10);
      expect((await http(`${app.url}/audit/archives`)).body.archives).toEqual([]);

      rmSync(root, { force: true });
      const done = await finished(app, queued.body.id);
      expect(done.result.archived).toHaveLength(2);
      expect(done.result.offloaded.events).toBe(10);
      await waitForTotal(app.url, 'event_type=user_login', 0);
      expect([...(await archivedIds(app)).values()].flat().sort()).toEqual(posted.body.results.map((r: { id: string }) => r.id).sort());
      const healthy = await http(`${app.url}/audit/status`);
      expect(healthy.body.components.retention).toMatchObject({ ok: true, detail: { object_store: { ok: true } } });
      const later = (await http(`${app.url}/metrics`)).body as string;
      expect(Number(/^audit_retention_last_success_timestamp_seconds\{kind="run"\} (\S+)$/m.exec(later)?.[1])).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  }, 120_000);
});
