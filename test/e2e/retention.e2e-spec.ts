import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { bootApp, eventually, http, ROOT, TestApp, waitForTotal } from './support/embedded-app';
import { finishedJob } from './support/retention-jobs';
import { pathOf, specCurlCommands } from './support/spec-curl';

const run = promisify(execFile);
const NOW = '2026-12-02T12:00:00Z';

/** The guide's retention example, run with curl exactly as printed (its `//` comment included). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function guideCurl(app: TestApp): Promise<{ code: number; body: any }> {
  const cmd = specCurlCommands().find((c) => pathOf(c) === '/audit/retention');
  expect(cmd).toContain('// 7 years for financial compliance');
  const rewritten = cmd!.replace(/http:\/\/localhost:8000/g, app.url).replace(/^curl /, `curl -s -S --max-time 20 -w '\\n%{http_code}' `);
  const { stdout } = await run('bash', ['-c', rewritten]);
  const idx = stdout.lastIndexOf('\n');
  return { code: Number(stdout.slice(idx + 1)), body: JSON.parse(stdout.slice(0, idx)) };
}

describe('retention policies and legal holds (embedded)', () => {
  let app: TestApp;
  const post = (path: string, json: unknown) => http(`${app.url}${path}`, { method: 'POST', json });

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_RETENTION_NOW: NOW });
  });

  afterAll(async () => {
    await app.close();
  });

  it("given a fresh start, when the guide's curl runs, then the policy is in force with a warning that archiving needs recipients", async () => {
    const { code, body } = await guideCurl(app);
    expect(code).toBe(201);
    expect(body.status).toBe('applied');
    expect(body.policy).toMatchObject({
      retention_days: 2555,
      archive_after_days: 365,
      compress_archives: true,
      encryption_required: true,
    });
    expect(body.warnings).toEqual([expect.stringContaining('AUDIT_ARCHIVE_RECIPIENTS')]);
    expect(body.dry_run.destructive).toBe(false);
    const got = await http(`${app.url}/audit/retention`);
    expect(got.status).toBe(200);
    expect(got.body.policy.retention_period).toBe('P2555D');
    expect(got.body.now).toBe('2026-12-02T12:00:00.000Z');
    // The service's own audit events (the policy change, reads) may already be online, all of today: nothing is due.
    expect(got.body.state).toMatchObject({ events_due_for_archive: 0 });
    // No run has finished yet (a read is not a run).
    expect(got.body.state.last_run).toBeNull();
    expect(got.body.state.events_online).toBeGreaterThanOrEqual(0);
    await waitForTotal(app.url, 'event_type=retention_policy_changed', 1);
    const store = await eventually(async () => {
      const c = (await http(`${app.url}/audit/status`)).body.components.object_store;
      return c?.ok === true ? c : undefined;
    });
    expect(store).toMatchObject({ ok: true, detail: { kind: 'directory' } });
  });

  it('should refuse wrong fields with a 400 naming each', async () => {
    const cases: Array<[unknown, string]> = [
      [{ retention_days: 0 }, '/retention_days'],
      [{ retention_days: -1 }, '/retention_days'],
      [{ retention_days: 30, archive_after_days: 60 }, '/archive_after_days'],
      [{ retention_days: 30, preset: 'gdpr' }, '/preset'],
      [{ retention_period: '7 years' }, '/retention_period'],
      [{ retention_days: 30, retention_weeks: 2 }, '/retention_weeks'],
      [{ retention_days: 30, categories: { nope: { retention_days: 10 } } }, '/categories/nope'],
    ];
    for (const [body, field] of cases) {
      const r = await post('/audit/retention', body);
      expect(r.status).toBe(400);
      expect(r.body.error.details.map((d: { field: string }) => d.field)).toEqual([field]);
    }
  });

  it('given old events, when a shorter retention is posted, then it waits with its dry run and can be cancelled', async () => {
    const events = [
      ...Array.from({ length: 3 }, () => ({ event_type: 'user_login', timestamp: '2019-03-10T08:00:00Z' })),
      ...Array.from({ length: 2 }, () => ({ event_type: 'user_login', timestamp: '2025-06-01T08:00:00Z' })),
      { event_type: 'user_login', timestamp: '2026-11-30T08:00:00Z' },
    ];
    expect((await post('/audit/events', events)).status).toBe(201);
    await waitForTotal(app.url, 'event_type=user_login', 6);
    const state = (await http(`${app.url}/audit/retention`)).body.state;
    // 2019 is past 2555 days, 2025-06-01 is past 365 days (due for archive), 2026-11-30 is online.
    expect(state).toMatchObject({ oldest_online_day: '2019-03-10', events_due_for_deletion: 3, events_due_for_archive: 2 });

    const r = await post('/audit/retention', { retention_days: 365, compress_archives: true });
    expect(r.status).toBe(202);
    expect(r.body.status).toBe('pending');
    expect(r.body.dry_run.delete).toEqual({ events: 2, days: 1, from: '2025-06-01', to: '2025-06-01' });
    expect(r.body.pending.effective_at).toBe('2026-12-03T12:00:00.000Z');
    const id = r.body.pending.id as string;
    const during = await http(`${app.url}/audit/retention`);
    expect(during.body.policy.retention_days).toBe(2555);
    expect(during.body.pending.map((p: { id: string }) => p.id)).toEqual([id]);
    await waitForTotal(app.url, 'event_type=retention_change_scheduled', 1);

    const cancelled = await http(`${app.url}/audit/retention/pending/${id}`, { method: 'DELETE' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await http(`${app.url}/audit/retention`)).body.pending).toEqual([]);
    expect((await http(`${app.url}/audit/retention/pending/${id}`, { method: 'DELETE' })).status).toBe(404);
    await waitForTotal(app.url, 'event_type=retention_change_cancelled', 1);
  });

  it('given a pending change, when a change that applies at once is posted, then the pending one is superseded', async () => {
    const shorter = await post('/audit/retention', { retention_days: 365 });
    expect(shorter.status).toBe(202);
    const id = shorter.body.pending.id as string;
    // The policy in force again: nothing new to archive or delete, so it applies at once.
    const applied = await post('/audit/retention', { retention_days: 2555, archive_after_days: 365, encryption_required: true });
    expect(applied.status).toBe(201);
    const got = (await http(`${app.url}/audit/retention`)).body;
    expect(got.pending).toEqual([]);
    expect(got.policy.retention_days).toBe(2555);
    expect((await http(`${app.url}/audit/retention/pending/${id}`, { method: 'DELETE' })).status).toBe(404);
    await waitForTotal(app.url, 'event_type=retention_policy_changed', 2);
    const changes = (await http(`${app.url}/audit/events?event_type=retention_policy_changed&order=desc`)).body.events;
    expect(JSON.stringify(changes[0].metadata.superseded)).toContain(id);
  });

  it('should place, list and release legal holds, each an audit event, and refuse an inverted range', async () => {
    const inverted = await post('/audit/legal-holds', { from: '2020-01-02T00:00:00Z', to: '2020-01-01T00:00:00Z', reason: 'case 1' });
    expect(inverted.status).toBe(400);
    expect(inverted.body.error.details.map((d: { field: string }) => d.field)).toEqual(['/to']);

    const placed = await post('/audit/legal-holds', {
      category: 'user_actions',
      from: '2019-01-01T00:00:00Z',
      to: '2019-12-31T23:59:59Z',
      reason: 'Litigation hold, case 2026-17',
      case_id: '2026-17',
    });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({ category: 'user_actions', reason: 'Litigation hold, case 2026-17', released_at: null });
    const listed = await http(`${app.url}/audit/legal-holds`);
    expect(listed.body.holds.map((h: { id: string }) => h.id)).toEqual([placed.body.id]);
    const state = (await http(`${app.url}/audit/retention`)).body.state;
    expect(state).toMatchObject({ events_due_for_deletion: 0, events_kept_by_holds: 3, active_holds: 1 });

    const released = await http(`${app.url}/audit/legal-holds/${placed.body.id}`, { method: 'DELETE' });
    expect(released.status).toBe(200);
    expect(released.body.released_by).toBe('anonymous (loopback)');
    expect(released.body.created_by).toBe('anonymous (loopback)');
    expect((await http(`${app.url}/audit/legal-holds`)).body.holds).toEqual([]);
    expect((await http(`${app.url}/audit/legal-holds?include_released=true`)).body.holds).toHaveLength(1);
    expect((await http(`${app.url}/audit/retention`)).body.state.events_due_for_deletion).toBe(3);
    expect((await http(`${app.url}/audit/legal-holds/${placed.body.id}`, { method: 'DELETE' })).status).toBe(404);
    await waitForTotal(app.url, 'event_type=legal_hold_placed', 1);
    await waitForTotal(app.url, 'event_type=legal_hold_released', 1);
  });

  it('should store a hold on an alias under its category, and refuse an unknown category or a missing reason', async () => {
    const range = { from: '2019-03-10T00:00:00Z', to: '2019-03-10T23:59:59Z' };
    const unknown = await post('/audit/legal-holds', { ...range, reason: 'x', category: 'nosuch' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.map((d: { field: string }) => d.field)).toEqual(['/category']);
    const noReason = await post('/audit/legal-holds', range);
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.details).toEqual([{ field: '/reason', message: 'reason is required' }]);

    const alias = await post('/audit/legal-holds', { ...range, reason: 'case 3', category: 'user' });
    expect(alias.status).toBe(201);
    expect(alias.body.category).toBe('user_actions');
    // It holds the 2019-03-10 user_login events as the canonical name would.
    expect((await http(`${app.url}/audit/retention`)).body.state).toMatchObject({ events_kept_by_holds: 3, events_due_for_deletion: 0 });
    expect((await http(`${app.url}/audit/legal-holds/${alias.body.id}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('given encryption_required and no recipients, when a run is asked for, then it archives nothing and says why', async () => {
    const r = (await finishedJob(app, '/audit/retention/run')).result;
    expect(r.archived).toEqual([]);
    expect(r.archive_blocked).toContain('AUDIT_ARCHIVE_RECIPIENTS');
    expect((await http(`${app.url}/audit/archives`)).body.archives).toEqual([]);
  });
});

describe('archive runs (embedded)', () => {
  let app: TestApp;
  let keys: string;
  let recipient: string;
  const post = (p: string, json: unknown) => http(`${app.url}${p}`, { method: 'POST', json });

  beforeAll(async () => {
    keys = mkdtempSync(path.join(tmpdir(), 'age-keys-'));
    await run('age-keygen', ['-o', path.join(keys, 'identity.txt')]);
    recipient = /public key: (age1\S+)/.exec(readFileSync(path.join(keys, 'identity.txt'), 'utf8'))![1];
    app = await bootApp({
      AUDIT_SELF_AUDIT_READS: 'false',
      AUDIT_RETENTION_NOW: NOW,
      AUDIT_RETENTION_CHANGE_DELAY_HOURS: '0',
      AUDIT_ARCHIVE_RECIPIENTS: recipient,
    });
  });

  afterAll(async () => {
    await app.close();
    rmSync(keys, { recursive: true, force: true });
  });

  it('should run ingest, hold, archive (decrypted by the age CLI), restore, delete and archive expiry, with counts at each step', async () => {
    const old = Array.from({ length: 3 }, (_, i) => ({
      event_type: 'user_login',
      timestamp: `2025-06-01T0${i}:00:00Z`,
      metadata: { seq: i },
    }));
    const ancient = [
      { event_type: 'user_login', timestamp: '2019-03-10T08:00:00Z' },
      { event_type: 'user_login', timestamp: '2019-03-10T09:00:00Z' },
      { event_type: 'user_login', timestamp: '2019-03-11T08:00:00Z' },
    ];
    const accepted = await post('/audit/events', [...old, { event_type: 'user_login', timestamp: '2026-11-30T08:00:00Z' }, ...ancient]);
    expect(accepted.status).toBe(201);
    const ids = (accepted.body.results as Array<{ id: string }>).slice(0, 3).map((r) => r.id);
    await waitForTotal(app.url, 'event_type=user_login', 7);
    // In the integrity tree too (its own consumer group): 409 "not checkpointed yet" once the leaf is there.
    for (const id of ids) {
      await eventually(async () => ((await http(`${app.url}/audit/events/${id}/proof`)).status !== 404 ? true : undefined));
    }
    const hold = await post('/audit/legal-holds', {
      category: 'user_actions',
      from: '2019-03-10T00:00:00Z',
      to: '2019-03-10T23:59:59Z',
      reason: 'case 9',
    });
    expect(hold.status).toBe(201);

    const set = await post('/audit/retention', {
      retention_days: 2555,
      archive_after_days: 365,
      compress_archives: true,
      encryption_required: true,
    });
    expect(set.status).toBe(201);
    expect(set.body.dry_run.archive).toEqual({ events: 3, days: 1, from: '2025-06-01', to: '2025-06-01' });

    const firstJob = await finishedJob(app, '/audit/retention/run');
    expect(firstJob).toMatchObject({ kind: 'run', phase: 'done', attempts: 1 });
    expect((await http(`${app.url}/audit/retention`)).body.state.last_run).toBe(firstJob.finished_at);
    const first = { body: firstJob.result };
    expect(first.body.archive_blocked).toBeNull();
    expect(first.body.archived).toEqual([{ id: expect.any(String), category: 'user_actions', day: '2025-06-01', events: 3 }]);
    // Archived and checked, so removed from the query store; 2019-03-11 is past 2555 days; 2019-03-10 is held.
    expect(first.body.offloaded).toEqual({ events: 3, days: 1, from: '2025-06-01', to: '2025-06-01' });
    expect(first.body.deleted).toEqual({ events: 1, days: 1, from: '2019-03-11', to: '2019-03-11' });
    expect(first.body.kept_by_holds).toEqual({ events: 2, days: 1, from: '2019-03-10', to: '2019-03-10' });
    await waitForTotal(app.url, 'event_type=user_login', 3);

    const listed = await http(`${app.url}/audit/archives`);
    expect(listed.body.archives).toHaveLength(1);
    const m = listed.body.archives[0];
    expect(m).toMatchObject({ category: 'user_actions', day: '2025-06-01', event_count: 3, compression: 'gzip', recipients: [recipient] });
    expect([m.first_id, m.last_id]).toEqual([ids[0], ids[2]]);
    expect(m.policy.retention_days).toBe(2555);

    const file = path.join(app.dataDir, 'objects', ...m.object_key.split('/'));
    const object = readFileSync(file);
    expect(createHash('sha256').update(object).digest('hex')).toBe(m.object_sha256);
    expect(object.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    const { stdout } = await run('age', ['-d', '-i', path.join(keys, 'identity.txt'), file], { encoding: 'buffer' });
    const plain = gunzipSync(stdout);
    expect(createHash('sha256').update(plain).digest('hex')).toBe(m.plaintext_sha256);
    const lines = plain
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; metadata: { seq: number } });
    expect(lines.map((e) => e.id)).toEqual(ids);
    expect(lines.map((e) => e.metadata.seq)).toEqual([0, 1, 2]);

    // The integrity view: the three leaves, their tree hash in leaf order, against a signed checkpoint that the
    // offline verifier checks the decrypted archive against (and refuses an edited one).
    expect(m.integrity).toMatchObject({ leaf_encoding: 'v1', leaf_count: 3, missing: 0, leaves_root: expect.any(String) });
    expect(m.integrity.last_leaf_index).toBeLessThan(m.integrity.checkpoint.tree_size);
    const checkpoint = (await http(`${app.url}/audit/integrity/checkpoint`)).body;
    expect([checkpoint.tree_size, checkpoint.root_hash]).toEqual([m.integrity.checkpoint.tree_size, m.integrity.checkpoint.root_hash]);
    const verifyDir = mkdtempSync(path.join(tmpdir(), 'archive-verify-'));
    writeFileSync(path.join(verifyDir, 'manifest.json'), JSON.stringify(m));
    writeFileSync(path.join(verifyDir, 'checkpoint.txt'), checkpoint.note);
    writeFileSync(path.join(verifyDir, 'key.txt'), (await http(`${app.url}/audit/integrity/public-key`)).body.verifier_key);
    writeFileSync(path.join(verifyDir, 'archive.jsonl'), plain);
    writeFileSync(path.join(verifyDir, 'edited.jsonl'), plain.toString().replace('"seq":1', '"seq":7'));
    const verify = (file: string) =>
      run(process.execPath, [
        path.join(ROOT, 'dist/apps/integrity/src/verify-cli.js'),
        '--archive-manifest',
        path.join(verifyDir, 'manifest.json'),
        '--key',
        path.join(verifyDir, 'key.txt'),
        '--checkpoint',
        path.join(verifyDir, 'checkpoint.txt'),
        path.join(verifyDir, file),
      ]);
    expect(JSON.parse((await verify('archive.jsonl')).stdout)).toEqual({
      ok: true,
      events: 3,
      leaves: 3,
      missing: 0,
      indices_match_lines: true,
      leaves_root_matches: true,
      checkpoint_matches: true,
    });
    const edited = await verify('edited.jsonl').catch((e: { code: number; stdout: string }) => e);
    expect(edited).toMatchObject({ code: 1 });
    expect(JSON.parse(edited.stdout)).toMatchObject({ ok: false, leaves_root_matches: false });
    rmSync(verifyDir, { recursive: true, force: true });

    // Restore: the identity in the body; the events come back once, however often the archive is restored.
    const identity = /AGE-SECRET-KEY-1\S+/.exec(readFileSync(path.join(keys, 'identity.txt'), 'utf8'))![0];
    const noKey = await post(`/audit/archives/${m.id}/restore`, {});
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.details.map((d: { field: string }) => d.field)).toEqual(['/identity']);
    const restored = await finishedJob(app, `/audit/archives/${m.id}/restore`, { identity });
    expect(restored).toMatchObject({ kind: 'restore', archive_id: m.id, done: 3, expected: 3 });
    expect(restored.result).toMatchObject({ archive_id: m.id, events: 3, submitted: 3, restored_until: '2026-12-09T12:00:00.000Z' });
    await waitForTotal(app.url, 'event_type=user_login', 6);
    await finishedJob(app, `/audit/archives/${m.id}/restore`, { identity });
    const jobs = (await http(`${app.url}/audit/retention/jobs`)).body.jobs;
    expect(jobs.map((j: { kind: string }) => j.kind)).toEqual(['restore', 'restore', 'run']);
    await waitForTotal(app.url, 'event_type=archive_restored', 2);
    await waitForTotal(app.url, 'event_type=user_login', 6);
    const back = await http(`${app.url}/audit/events?event_type=user_login&start=2025-06-01&end=2025-06-01&order=asc`);
    expect(back.body.events.map((e: { id: string }) => e.id)).toEqual(ids);
    // Each comes back as it was archived, received_at included (not stamped again by the restore's ingest).
    const stored = (e: Record<string, unknown>) => {
      const { position: _p, tenant_id: _t, ...rest } = e;
      return rest;
    };
    expect(back.body.events.map(stored)).toEqual((lines as unknown as Record<string, unknown>[]).map(stored));
    // And the log still verifies: the deleted and offloaded events are pruned by policy, the restored ones
    // back at new log positions with their leaves unchanged.
    const verified = await eventually(async () => {
      const v = await post('/audit/integrity/verify', {});
      return v.status === 200 && v.body.pending === 0 ? v.body : undefined;
    });
    expect(verified).toMatchObject({ ok: true, modified: [], removed: [], inserted: [], reordered: [], restored: 3, pruned: 1 });
    // A restored day is not offloaded again while its restore lasts.
    const again = { body: (await finishedJob(app, '/audit/retention/run')).result };
    expect(again.body.archived).toEqual([]);
    expect(again.body.offloaded.events).toBe(0);
    const state = (await http(`${app.url}/audit/retention`)).body.state;
    expect(state).toMatchObject({ archives_held: 1, events_due_for_archive: 0, events_kept_by_holds: 2, oldest_online_day: '2019-03-10' });

    // The hold released, the next run deletes what it kept, and archives nothing twice.
    expect((await http(`${app.url}/audit/legal-holds/${hold.body.id}`, { method: 'DELETE' })).status).toBe(200);
    const second = { body: (await finishedJob(app, '/audit/retention/run')).result };
    expect(second.body.archived).toEqual([]);
    expect(second.body.deleted.events).toBe(2);
    await waitForTotal(app.url, 'event_type=user_login', 4);
    expect((await http(`${app.url}/audit/archives`)).body.archives).toHaveLength(1);

    // A shorter retention puts the archive past it: the object and its manifest go.
    const shorter = await post('/audit/retention', { retention_days: 400, archive_after_days: 365, encryption_required: true });
    expect(shorter.status).toBe(201);
    // The dry run sees the archive it deletes (here the restored day is online too, so both counts are 3).
    expect(shorter.body.dry_run).toMatchObject({
      delete_archives: { events: 3, days: 1, from: '2025-06-01', to: '2025-06-01' },
      destructive: true,
    });
    const third = { body: (await finishedJob(app, '/audit/retention/run')).result };
    expect(third.body.archives_deleted).toEqual([{ id: m.id, category: 'user_actions', day: '2025-06-01', events: 3 }]);
    // The restored copy expires under the policy too.
    expect(third.body.deleted).toEqual({ events: 3, days: 1, from: '2025-06-01', to: '2025-06-01' });
    expect((await http(`${app.url}/audit/archives`)).body.archives).toEqual([]);
    expect(() => readFileSync(file)).toThrow();
    await waitForTotal(app.url, 'event_type=retention_run', 4);
    await waitForTotal(app.url, 'event_type=user_login', 1);
  });
});

describe('a delayed retention change (embedded, across a restart)', () => {
  it('given a pending change, when the clock passes its effective time, then it is in force and audited', async () => {
    const first = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_RETENTION_NOW: NOW });
    let second: TestApp | undefined;
    try {
      const old = await http(`${first.url}/audit/events`, {
        method: 'POST',
        json: [{ event_type: 'user_login', timestamp: '2025-01-10T08:00:00Z' }],
      });
      expect(old.status).toBe(201);
      await waitForTotal(first.url, 'event_type=user_login', 1);
      const r = await http(`${first.url}/audit/retention`, { method: 'POST', json: { retention_days: 30 } });
      expect(r.status).toBe(202);
      expect(r.body.pending.effective_at).toBe('2026-12-03T12:00:00.000Z');
      expect((await http(`${first.url}/audit/retention`)).body.policy).toBeNull();
      await first.close({ keepData: true });

      second = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_RETENTION_NOW: '2026-12-03T12:00:01Z' }, first.dataDir);
      const got = await http(`${second.url}/audit/retention`);
      expect(got.body.policy.retention_days).toBe(30);
      expect(got.body.pending).toEqual([]);
      expect(got.body.state.events_due_for_deletion).toBe(1);
      await waitForTotal(second.url, 'event_type=retention_policy_changed', 1);
    } finally {
      await (second ?? first).close();
    }
  });
});
