import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { percentile } from '../lib/load';
import { authedGet, DIST, runWorker, startEmbeddedApp, stop } from '../lib/processes';
import { QUERIES, TARGET_P95_MS } from '../lib/queries';
import { Row } from '../lib/report';

interface SeedResult {
  rows: number;
  seedS: number;
  optimizeS: number;
  parts: number;
  bytes: number;
  engine: Record<string, { p50: number; p95: number }>;
}

async function get(url: string): Promise<{ ms: number; body: unknown }> {
  const t0 = performance.now();
  const res = await authedGet(url);
  const body: unknown = await res.json();
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return { ms, body };
}

const fmtN = (n: number): string => n.toLocaleString('en-US');

/**
 * The guide's queries, the statistics endpoints and metadata filters over a generated data set, one request
 * at a time over HTTP against the embedded app; the limit is the app's repository call on the engine directly.
 */
export async function queries(ctx: BenchContext): Promise<Row[]> {
  const rows = ctx.full ? 10_000_000 : 1_000_000;
  const iterations = ctx.full ? 50 : 20;
  const dataDir = freshDir(ctx, 'queries');

  ctx.log(`queries: generating ${fmtN(rows)} events over 60 days into a fresh data dir, then ${iterations} engine-direct rounds`);
  const seed = await runWorker<SeedResult>('seed', path.join(DIST, 'bench', 'workers', 'seed.js'), {
    dataDir,
    rows,
    days: 60,
    queries: QUERIES,
    iterations,
  });
  ctx.log(
    `  seeded in ${seed.seedS.toFixed(1)} s (${fmtN(Math.round(rows / seed.seedS))} rows/s), merged in ${seed.optimizeS.toFixed(1)} s, ` +
      `${seed.parts} parts, ${(seed.bytes / 2 ** 20).toFixed(0)} MiB on disk`,
  );

  ctx.log(`queries: embedded app on the generated data, ${iterations} rounds over HTTP`);
  const app = await startEmbeddedApp('app-queries', dataDir, {}, ctx.serviceNodeArgs);
  const times: Record<string, number[]> = Object.fromEntries(QUERIES.map((q) => [q.name, []]));
  const matches: Record<string, number> = {};
  let consistency = '';
  try {
    // On top of the generated rows there are only the app's own events (start-up, the bench's API key), which
    // may become visible between the two reads: read both again until they agree, for up to 5 s.
    let total = 0;
    let stats = { total_events: -1 };
    for (let i = 0; i < 50 && total !== stats.total_events; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      total = ((await get(`${app.url}/audit/events?limit=1`)).body as { total: number }).total;
      stats = (await get(`${app.url}/audit/statistics`)).body as { total_events: number };
    }
    consistency = `GET total ${fmtN(total)}, statistics total ${fmtN(stats.total_events)}`;
    if (total !== stats.total_events || total < rows || total > rows + 10) {
      throw new Error(`generated data is not what the app sees: ${consistency}, generated ${fmtN(rows)}`);
    }
    for (let i = 0; i < 3 + iterations; i++) {
      for (const q of QUERIES) {
        const { ms, body } = await get(`${app.url}${q.path}`);
        if (i >= 3) times[q.name].push(ms);
        const t = (body as { total?: number; total_events?: number }).total ?? (body as { total_events?: number }).total_events;
        if (typeof t === 'number') matches[q.name] = t;
      }
    }
  } finally {
    await stop(app.child);
    removeDir(dataDir);
  }
  ctx.log(`  ${consistency}`);

  const scenario = `Queries, ${rows >= 1e6 ? `${rows / 1e6}M` : fmtN(rows)} events`;
  return QUERIES.map((q): Row => {
    const s = [...times[q.name]].sort((a, b) => a - b);
    const p50 = percentile(s, 50);
    const p95 = percentile(s, 95);
    const engine = seed.engine[q.name];
    const target = TARGET_P95_MS[q.kind];
    return {
      scenario,
      measure: `GET ${q.path.replace('/audit/events?', '?').replace('/audit/', '')} p95`,
      service: p95,
      limit: engine.p95,
      limitIs: 'same calls on the engine, no HTTP',
      unit: 'ms',
      target: `p95 < ${target} ms${rows < 10_000_000 ? ' (at 10M)' : ''}`,
      met: p95 < target,
      note: `p50 ${p50.toFixed(1)} ms, engine p50 ${engine.p50.toFixed(1)} ms${matches[q.name] !== undefined && q.kind !== 'statistics' ? `, ${fmtN(matches[q.name])} matches` : ''}`,
    };
  });
}
