import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { authedGet, DIST, postJson, sleep, startEmbeddedApp, stop } from '../lib/processes';
import { oldDayEvent } from '../lib/load';
import { Row } from '../lib/report';

const NOW = '2026-12-02T12:00:00Z';
const BATCH = 5000;
const CLI = path.join(DIST, 'apps', 'all-in-one', 'src', 'rebuild-cli.js');

async function total(url: string): Promise<number> {
  const res = await authedGet(`${url}/audit/events?limit=1&event_type=user_login`);
  return ((await res.json()) as { total: number }).total;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/**
 * `npm run rebuild` on the embedded app: N events over D old days, archived (gzip, age) and offloaded by a
 * retention run, the app stopped, then the rebuild into a fresh store: every archive read, decrypted,
 * checked and inserted, then the whole log replayed (it still holds every event, so every record is a
 * duplicate found by id: the worst case of a recent store). Against the batch ingest of the same events.
 */
export async function rebuild(ctx: BenchContext): Promise<Row[]> {
  const events = ctx.full ? 1_000_000 : 100_000;
  const days = 10;
  const perDay = Math.ceil(events / days);
  const dataDir = freshDir(ctx, 'rebuild');
  const keyFile = path.join(dataDir, 'identity.txt');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
  const keyText = readFileSync(keyFile, 'utf8');
  const identity = /AGE-SECRET-KEY-1\S+/.exec(keyText)![0];
  const env = {
    AUDIT_RETENTION_NOW: NOW,
    AUDIT_RETENTION_CHANGE_DELAY_HOURS: '0',
    AUDIT_ARCHIVE_RECIPIENTS: /public key: (age1\S+)/.exec(keyText)![1],
  };
  const app = await startEmbeddedApp('app-rebuild', dataDir, env, ctx.serviceNodeArgs);
  // Every answer read to its end (postJson): one left unread holds its connection, and the client opens another.
  const post = (p: string, body: unknown) => postJson(`${app.url}${p}`, body);
  try {
    ctx.log(`rebuild: seeding ${events} events over ${days} days (batches of ${BATCH})`);
    const seedStart = performance.now();
    for (let sent = 0; sent < events; sent += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, events - sent) }, (_, i) => oldDayEvent(sent + i, perDay));
      const r = await post('/audit/events', batch);
      if (r.status !== 201) throw new Error(`seeding answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    await until('the seed searchable', async () => (await total(app.url)) === events);
    const ingestRate = events / ((performance.now() - seedStart) / 1000);

    const set = await post('/audit/retention', {
      retention_days: 2555,
      archive_after_days: 365,
      compress_archives: true,
      encryption_required: true,
    });
    if (set.status !== 201) throw new Error(`policy answered ${set.status}`);
    const queued = (await post('/audit/retention/run', {})).body as { status_url: string };
    await until('the archive run', async () => {
      const j = (await (await authedGet(`${app.url}${queued.status_url}`)).json()) as { state: string; error: string | null };
      if (j.state === 'failed') throw new Error(`the run failed: ${j.error}`);
      return j.state === 'succeeded';
    });
    await until('the offload', async () => (await total(app.url)) === 0);
    await stop(app.child);

    ctx.log('rebuild: npm run rebuild -- --force');
    const started = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, '--force'], {
      env: { PATH: process.env.PATH ?? '', AUDIT_DATA_DIR: dataDir, AUDIT_ARCHIVE_IDENTITY: identity },
      maxBuffer: 64 << 20,
    });
    const wall = (performance.now() - started) / 1000;
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as {
      archives: { events: number };
      log: { records: number; stored: number };
      total_events: number;
      elapsed_ms: { archives: number; log: number; rollups: number };
    };
    if (report.archives.events !== events) throw new Error(`the rebuild restored ${report.archives.events} events, not ${events}`);
    if (report.log.stored !== report.total_events - events)
      throw new Error(`the log replay stored ${report.log.stored} archived events again`);

    const scenario = 'Rebuild';
    const limitIs = 'batch ingest of the same events (seeding, until searchable)';
    const note = `${events.toLocaleString('en-US')} events in ${days} archives (gzip, age), embedded`;
    return [
      {
        scenario,
        measure: 'archives restored (read, checked, decrypted, inserted)',
        service: report.archives.events / (report.elapsed_ms.archives / 1000),
        limit: ingestRate,
        limitIs,
        unit: 'rows/s',
        note,
      },
      {
        scenario,
        measure: 'log replayed over them (every record a duplicate, found by id)',
        service: report.log.records / (report.elapsed_ms.log / 1000),
        limit: ingestRate,
        limitIs,
        unit: 'rows/s',
        note: `${report.log.records.toLocaleString('en-US')} records`,
      },
      {
        scenario,
        measure: 'npm run rebuild end to end (process start to report)',
        service: events / wall,
        limit: ingestRate,
        limitIs,
        unit: 'rows/s',
        note: `roll-up reconcile ${report.elapsed_ms.rollups} ms`,
      },
    ];
  } finally {
    await stop(app.child);
    removeDir(dataDir);
  }
}
