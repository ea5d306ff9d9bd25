import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { authedGet, DIST, postJson, rssMiB, runWorker, sampleRss, sleep, startEmbeddedApp, stop, treeReaches } from '../lib/processes';
import { oldDayEvent } from '../lib/load';
import { Row } from '../lib/report';

const NOW = '2026-12-02T12:00:00Z';
const BATCH = 5000;

interface Job {
  state: string;
  phase: string;
  error: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  result: any;
}

async function total(url: string, query = ''): Promise<number> {
  const res = await authedGet(`${url}/audit/events?limit=1${query}`);
  return ((await res.json()) as { total: number }).total;
}

async function waitTotal(url: string, query: string, n: number, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await total(url, query)) !== n) {
    if (Date.now() > deadline) throw new Error(`the store did not reach ${n} events for ${query}`);
    await sleep(100);
  }
}

/**
 * Retention on the embedded app: N events over D old days (user_login), archived by a run (read from the
 * store, JSON Lines, gzip, age-encrypted, written, read back and checked, then offloaded), against the
 * engine's own export of the same rows (gzip JSON Lines into a file, no encryption); the app's RSS before and
 * at its peak while archiving; and the restore of one day (through ingest, until searchable) against the
 * batch ingest of the same events when they were seeded.
 */
export async function retention(ctx: BenchContext): Promise<Row[]> {
  // BENCH_RETENTION_EVENTS and BENCH_RETENTION_DAYS: other sizes in quick mode (e.g. 100,000 events in one day,
  // one archive of 100,000), to show the archiver's memory does not grow with the events per archive.
  const events = ctx.full ? 10_000_000 : Number(process.env.BENCH_RETENTION_EVENTS ?? 100_000);
  const days = ctx.full ? 30 : Number(process.env.BENCH_RETENTION_DAYS ?? 10);
  const perDay = Math.ceil(events / days);
  const dataDir = freshDir(ctx, 'retention');
  const keyFile = path.join(dataDir, 'identity.txt');
  execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
  const keyText = readFileSync(keyFile, 'utf8');
  const env = {
    AUDIT_RETENTION_NOW: NOW,
    AUDIT_RETENTION_CHANGE_DELAY_HOURS: '0',
    AUDIT_ARCHIVE_RECIPIENTS: /public key: (age1\S+)/.exec(keyText)![1],
    AUDIT_ARCHIVE_IDENTITY: /AGE-SECRET-KEY-1\S+/.exec(keyText)![0],
  };
  const dayOf = (d: number): string => `2025-05-${String(d + 1).padStart(2, '0')}`;
  let app = await startEmbeddedApp('app-retention', dataDir, env, ctx.serviceNodeArgs);
  // Every answer read to its end (postJson): one left unread holds its connection, and the client opens another.
  const post = (url: string, p: string, body: unknown) => postJson(`${url}${p}`, body);
  const untilDone = async (url: string, statusUrl: string, onPoll?: (j: Job) => void): Promise<Job> => {
    for (;;) {
      const j = (await (await authedGet(`${url}${statusUrl}`)).json()) as Job;
      onPoll?.(j);
      if (j.state === 'succeeded') return j;
      if (j.state === 'failed') throw new Error(`retention job failed: ${j.error}`);
      await sleep(20);
    }
  };
  try {
    ctx.log(`retention: seeding ${events} events over ${days} days (batches of ${BATCH})`);
    const seedStart = performance.now();
    for (let sent = 0; sent < events; sent += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, events - sent) }, (_, i) => oldDayEvent(sent + i, perDay));
      const r = await post(app.url, '/audit/events', batch);
      if (r.status !== 201) throw new Error(`seeding answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    await waitTotal(app.url, '&event_type=user_login', events);
    const ingestRate = events / ((performance.now() - seedStart) / 1000);
    // The tree holds them too before the run, as it would on a service that has been up: an archive run while the
    // integrity consumer is still appending the seed shares the embedded store with it (and writes manifests
    // without the Merkle view of events the tree has not reached yet).
    await treeReaches(app.url, events, 600_000);

    // The engine's own export of the same rows, with the app stopped (chdb is in-process).
    await stop(app.child);
    const exported = await runWorker<{ rows: number; seconds: number }>(
      'engine-export',
      path.join(DIST, 'bench', 'workers', 'engine-export.js'),
      { dataDir, out: path.join(dataDir, 'export.jsonl.gz'), fromDay: dayOf(0), toDay: dayOf(days - 1) },
    );
    if (exported.rows !== events) throw new Error(`the engine export saw ${exported.rows} rows, not ${events}`);
    const exportRate = exported.rows / exported.seconds;
    app = await startEmbeddedApp('app-retention', dataDir, env, ctx.serviceNodeArgs);
    const pid = app.child.proc.pid!;

    const set = await post(app.url, '/audit/retention', {
      retention_days: 2555,
      archive_after_days: 365,
      compress_archives: true,
      encryption_required: true,
    });
    if (set.status !== 201) throw new Error(`policy answered ${set.status}`);
    const rssBefore = rssMiB(pid);
    const rss = sampleRss(pid, 100);
    const queued = (await post(app.url, '/audit/retention/run', {})).body as { status_url: string };
    let archiveStart = 0;
    let archiveEnd = 0;
    const run = await untilDone(app.url, queued.status_url, (j) => {
      if (j.phase === 'archiving' && archiveStart === 0) archiveStart = performance.now();
      if (j.phase !== 'archiving' && archiveStart !== 0 && archiveEnd === 0) archiveEnd = performance.now();
    });
    const mem = rss.stop();
    const archived = (run.result.archived as Array<{ events: number }>).reduce((n, a) => n + a.events, 0);
    if (archived !== events) throw new Error(`the run archived ${archived} events, not ${events}`);
    const archiveRate = archived / ((archiveEnd - archiveStart) / 1000);
    await waitTotal(app.url, '&event_type=user_login', 0);

    // Restore one day: from the 202 until its events are searchable.
    const archives = (await (await authedGet(`${app.url}/audit/archives`)).json()) as {
      archives: Array<{ id: string; event_count: number; integrity: unknown }>;
    };
    const withoutRoot = archives.archives.filter((a) => a.integrity === null).length;
    if (withoutRoot > 0) throw new Error(`${withoutRoot} of ${archives.archives.length} manifests have no integrity view`);
    const one = archives.archives[0];
    const restoreStart = performance.now();
    const restore = (await post(app.url, `/audit/archives/${one.id}/restore`, {})).body as { status_url: string };
    await untilDone(app.url, restore.status_url);
    await waitTotal(app.url, '&event_type=user_login', one.event_count);
    const restoreRate = one.event_count / ((performance.now() - restoreStart) / 1000);

    const scenario = 'Retention';
    const note = `${events.toLocaleString('en-US')} events, ${days} days, embedded`;
    return [
      {
        scenario,
        measure: 'archive run, archiving phase (read, JSON Lines, gzip, age, write, read back)',
        service: archiveRate,
        limit: exportRate,
        limitIs: 'chdb export, gzip JSONEachRow, no encryption',
        unit: 'rows/s',
        target: '≥ 0.5 of the export',
        met: archiveRate >= 0.5 * exportRate,
        note,
      },
      {
        scenario,
        measure: 'app RSS while archiving (before / peak)',
        service: mem.peak,
        limit: rssBefore,
        limitIs: 'RSS before the run',
        unit: 'MiB',
        note: `${perDay.toLocaleString('en-US')} events per archive (one category-day, streamed)`,
      },
      {
        scenario,
        measure: 'restore of one archive until searchable',
        service: restoreRate,
        limit: ingestRate,
        limitIs: 'batch ingest of the same events (seeding, until searchable)',
        unit: 'rows/s',
        note: `${one.event_count.toLocaleString('en-US')} events`,
      },
    ];
  } finally {
    await stop(app.child);
    removeDir(dataDir);
  }
}
