import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { AUTH_HEADERS, DIST, runWorker, sampleRss, sleep, startEmbeddedApp, stop } from '../lib/processes';
import { Row } from '../lib/report';

interface Job {
  id: string;
  state: string;
  status_url: string;
  error: string | null;
  progress: { rows_done: number };
  file: { size: number } | null;
}

const fmtN = (n: number): string => n.toLocaleString('en-US');

async function post(url: string, body: unknown): Promise<Job> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...AUTH_HEADERS, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Job;
  if (res.status !== 202) throw new Error(`POST ${url} answered ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

/** Starts a job and waits for it: the seconds from the request to the job's done state (polled every 100 ms). */
async function runJob(base: string, endpoint: string, body: unknown): Promise<{ seconds: number; job: Job }> {
  const t0 = performance.now();
  const started = await post(`${base}${endpoint}`, body);
  for (;;) {
    const res = await fetch(`${base}${started.status_url}`, { headers: AUTH_HEADERS });
    const job = (await res.json()) as Job;
    if (job.state === 'done') return { seconds: (performance.now() - t0) / 1000, job };
    if (job.state === 'failed') throw new Error(`${endpoint} job failed: ${job.error}`);
    await sleep(100);
  }
}

/** A fresh store holding the queries scenario's generated fleet over 60 days: 1M events, 10M with --full. */
async function seedFleet(ctx: BenchContext, name: string): Promise<{ rows: number; dataDir: string }> {
  const rows = ctx.full ? 10_000_000 : 1_000_000;
  const dataDir = freshDir(ctx, name);
  ctx.log(`${name}: generating ${fmtN(rows)} events over 60 days`);
  await runWorker(`seed-${name}`, path.join(DIST, 'bench', 'workers', 'seed.js'), { dataDir, rows, days: 60, queries: [], iterations: 0 });
  return { rows, dataDir };
}

/**
 * Export throughput (CSV and JSON, gzip on and off) against the engine writing the same rows as CSVWithNames
 * into /dev/null, and the app's peak RSS during the CSV export (the compliance report is its own scenario).
 * The data set is the queries scenario's generator (60 days, the fleet mix), 1M events (10M with --full).
 */
export async function reporting(ctx: BenchContext): Promise<Row[]> {
  const { rows, dataDir } = await seedFleet(ctx, 'reporting');
  ctx.log('reporting: the engine writing the same rows as CSVWithNames into /dev/null (best of 2)');
  const engine = await runWorker<{ seconds: number; gzipSeconds: number }>(
    'export-engine',
    path.join(DIST, 'bench', 'workers', 'export-engine.js'),
    {
      dataDir,
      iterations: 2,
    },
  );
  const engineRate = rows / engine.seconds;
  const engineGzipRate = rows / engine.gzipSeconds;
  ctx.log(
    `  engine: ${engine.seconds.toFixed(1)} s, ${fmtN(Math.round(engineRate))} rows/s; gzip ${engine.gzipSeconds.toFixed(1)} s, ${fmtN(Math.round(engineGzipRate))} rows/s`,
  );

  const app = await startEmbeddedApp('app-reporting', dataDir, { AUDIT_REPORT_MAX_CONCURRENT_JOBS: '1' }, ctx.serviceNodeArgs);
  const period = { start: new Date(Date.now() - 62 * 86_400_000).toISOString(), end: new Date(Date.now() + 60_000).toISOString() };
  const scenario = `Reporting, ${rows >= 1e6 ? `${rows / 1e6}M` : fmtN(rows)} events`;
  const out: Row[] = [];
  try {
    for (const [format, compress] of [
      ['csv', false],
      ['csv', true],
      ['json', false],
      ['json', true],
    ] as const) {
      const rss = sampleRss(app.child.proc.pid!);
      const { seconds, job } = await runJob(app.url, '/audit/export', {
        format,
        period,
        categories: ['all'],
        include_metadata: true,
        compress,
      });
      const mem = rss.stop();
      const done = job.progress.rows_done;
      if (done < rows) throw new Error(`the export wrote ${done} rows, expected at least ${rows}`);
      const rate = done / seconds;
      ctx.log(
        `  export ${format}${compress ? '.gz' : ''}: ${seconds.toFixed(1)} s, ${fmtN(Math.round(rate))} rows/s, peak RSS ${mem.peak.toFixed(0)} MiB`,
      );
      // A compressed export against the engine compressing the same rows the same way (the plain limit too).
      const limit = compress ? engineGzipRate : engineRate;
      out.push({
        scenario,
        measure: `export ${format}${compress ? ' gzip' : ''} throughput`,
        service: rate,
        limit,
        limitIs: `engine SELECT ... FORMAT CSVWithNames into /dev/null${compress ? ', gzip' : ''}`,
        unit: 'rows/s',
        target: '≥ 0.5 of the engine',
        met: rate >= 0.5 * limit,
        note:
          `${seconds.toFixed(1)} s for ${fmtN(done)} rows, file ${((job.file?.size ?? 0) / 2 ** 20).toFixed(0)} MiB, app peak RSS ${mem.peak.toFixed(0)} MiB` +
          (compress ? `; ${(rate / engineRate).toFixed(2)} of the engine's plain CSV` : ''),
      });
      if (format === 'csv' && !compress) {
        out.push({
          scenario,
          measure: 'app peak RSS during the CSV export',
          service: mem.peak,
          limit: null,
          limitIs: '',
          unit: 'MiB',
          note: `mean ${mem.mean.toFixed(0)} MiB, sampled every 200 ms (the whole process: engine, API, job)`,
        });
      }
    }
  } finally {
    await stop(app.child);
    removeDir(dataDir);
  }
  return out;
}

/**
 * A compliance report's time, request to done, over every event of the generated set (1M; 10M with --full):
 * the report counts in the store (one GROUP BY) and reads only its sample rows. Best and worst of 3.
 */
export async function compliance(ctx: BenchContext): Promise<Row[]> {
  const { rows, dataDir } = await seedFleet(ctx, 'compliance');
  const app = await startEmbeddedApp('app-compliance', dataDir, {}, ctx.serviceNodeArgs);
  const period = { start: new Date(Date.now() - 62 * 86_400_000).toISOString(), end: new Date(Date.now() + 60_000).toISOString() };
  try {
    const times: number[] = [];
    let counted = 0;
    for (let i = 0; i < 3; i++) {
      const { seconds, job } = await runJob(app.url, '/audit/reports', {
        report_type: 'compliance',
        period,
        categories: ['all'],
        format: 'json',
      });
      if (job.progress.rows_done < rows) throw new Error(`the report counted ${job.progress.rows_done} events, expected at least ${rows}`);
      counted = job.progress.rows_done;
      times.push(seconds);
      ctx.log(`  compliance report: ${seconds.toFixed(2)} s over ${fmtN(counted)} events`);
    }
    return [
      {
        scenario: `Compliance report, ${rows >= 1e6 ? `${rows / 1e6}M` : fmtN(rows)} events`,
        measure: 'compliance report (json, all categories), request to done',
        service: Math.min(...times),
        limit: 10,
        limitIs: 'target',
        unit: 's',
        target: rows >= 10_000_000 ? '< 10 s' : '< 10 s (at 10M)',
        met: Math.max(...times) < 10,
        note: `best of 3, worst ${Math.max(...times).toFixed(2)} s; ${fmtN(counted)} events counted`,
      },
    ];
  } finally {
    await stop(app.child);
    removeDir(dataDir);
  }
}
