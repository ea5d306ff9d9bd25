import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bootApp, eventually, http, ROOT, storeCaughtUp, TestApp } from './support/embedded-app';

const CLI = path.join(ROOT, 'dist/apps/all-in-one/src/backup-cli.js');

async function idsOf(app: TestApp, run: string): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await http(`${app.url}/audit/events?metadata.run=${run}&limit=1000&offset=${offset}`);
    expect(r.status).toBe(200);
    ids.push(...(r.body.events as Array<{ id: string }>).map((e) => e.id));
    if (r.body.events.length < 1000) return ids;
  }
}

describe('backup and restore (embedded app)', () => {
  let app: TestApp | undefined;
  let restored: TestApp | undefined;
  const scratch = mkdtempSync(path.join(tmpdir(), 'audit-backup-'));
  afterAll(async () => {
    await app?.close();
    await restored?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('should back up while ingest continues and restore into a new directory with every acknowledged event once', async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
    const run = randomUUID();
    // Completeness state lives in the configuration store (PGlite): it must come back from the dump, since
    // the restored consumer resumes past these events.
    const source = `pos-${run.slice(0, 8)}`;
    for (const sequence of [1, 2, 3, 4, 5]) {
      expect(
        (await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'device_registered', source, sequence } })).status,
      ).toBe(201);
    }
    const tracked = async (a: TestApp) =>
      eventually(async () => {
        const r = await http(`${a.url}/audit/sources`);
        return (r.body.sources as Array<{ source: string; first_sequence: number; events: number }>).find(
          (x) => x.source === source && x.events === 5,
        );
      });
    expect(await tracked(app)).toMatchObject({ first_sequence: 1 });
    const acked: string[] = [];
    let stop = false;
    let i = 0;
    const writer = (async () => {
      while (!stop) {
        const r = await http(`${app!.url}/audit/events`, {
          method: 'POST',
          json: Array.from({ length: 20 }, () => ({ event_type: 'device_registered', metadata: { run, i: i++ } })),
        });
        expect(r.status).toBe(201);
        acked.push(...(r.body.results as Array<{ id: string }>).map((x) => x.id));
      }
    })();
    await eventually(async () => (acked.length >= 200 ? true : undefined), 20_000, '200 events acknowledged');
    const beforeBackup = [...acked];
    const out = path.join(scratch, 'backup');
    const printed = execFileSync(process.execPath, [CLI, 'backup', '--out', out, '--url', app.url], { encoding: 'utf8' });
    expect(JSON.parse(printed).backup).toBe(out);
    // One backup at a time: a second one asked for while the first runs is a 409 that says so, not a 400.
    const both = await Promise.all([1, 2].map(() => http(`${app!.url}/audit/backup`, { method: 'POST', json: {} })));
    expect(both.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(both.find((r) => r.status === 409)?.body.error).toMatchObject({
      code: 'in_progress',
      message: expect.stringMatching(/already running/),
    });
    // Ingest went on during the backup.
    await eventually(async () => (acked.length >= beforeBackup.length + 100 ? true : undefined), 20_000, 'ingest after the backup');
    stop = true;
    await writer;
    await app.close();
    app = undefined;

    const dataDir = path.join(scratch, 'restored');
    execFileSync(process.execPath, [CLI, 'restore', '--from', out, '--data-dir', dataDir], { encoding: 'utf8' });
    restored = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' }, dataDir);
    let seen = 0;
    await eventually(
      async () => {
        const got = await idsOf(restored!, run);
        const have = new Set(got);
        seen = beforeBackup.filter((id) => have.has(id)).length;
        return seen === beforeBackup.length ? got : undefined;
      },
      30_000,
      'every event acknowledged before the backup in the restored store',
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${seen} of ${beforeBackup.length}\n${restored!.output().slice(-3000)}`);
    });
    // The restored store replays what the backup's log holds past its cursors: list once that replay is done,
    // or its inserts would shift the pages under the listing.
    await storeCaughtUp(restored.url);
    const ids = await idsOf(restored, run);
    // Nothing twice, and nothing that was never acknowledged.
    expect(new Set(ids).size).toBe(ids.length);
    const everAcked = new Set(acked);
    expect(ids.filter((id) => !everAcked.has(id))).toEqual([]);
    expect(await tracked(restored)).toMatchObject({ first_sequence: 1 });
    const total = await http(`${restored.url}/audit/events?metadata.run=${run}&limit=1`);
    expect(total.body.total).toBe(ids.length);
  }, 180_000);
});
