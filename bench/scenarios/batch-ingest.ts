import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { postLoad } from '../lib/load';
import { eventBatch } from '../lib/mix';
import {
  authedGet,
  consumerStats,
  cpuSince,
  cpuSplit,
  describeConsumer,
  DIST,
  formatCpu,
  runWorker,
  sleep,
  startEmbeddedApp,
  stop,
} from '../lib/processes';
import { Row } from '../lib/report';

const BATCH = 1000;
const CONNECTIONS = 4;
/** Rows per insert for the engine ceiling: past 10,000 an insert's fixed cost no longer shows. */
const CEILING_BATCH = 10_000;

async function visibleTotal(url: string): Promise<number> {
  const res = await authedGet(`${url}/audit/events?limit=1`);
  const body = (await res.json()) as { total: number };
  return body.total;
}

async function waitVisible(url: string, total: number, timeoutMs: number, everyMs = 100): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await visibleTotal(url);
    if (seen >= total) return performance.now();
    if (Date.now() > deadline) throw new Error(`only ${seen} of ${total} events visible after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Batches of 1,000 events POSTed to the embedded app against plain inserts of the same rows into chdb. */
export async function batchIngest(ctx: BenchContext): Promise<Row[]> {
  const requests = ctx.full ? 1000 : 200;
  const events = requests * BATCH;
  const body = JSON.stringify(eventBatch(BATCH));

  const rawInsert = async (mode: 'client' | 'passthrough' | 'parse-only', batches: number, batchSize: number, concurrency = 1) => {
    const rawDir = freshDir(ctx, `raw-insert-${mode}`);
    try {
      return await runWorker<{ rows: number; insertMs: number; rowsPerS: number }>(
        `raw-insert-${mode}`,
        path.join(DIST, 'bench', 'workers', 'raw-insert.js'),
        { dataDir: rawDir, batches, batchSize, mode, concurrency },
      );
    } finally {
      removeDir(rawDir);
    }
  };
  ctx.log(`batch ingest: raw chdb insert of ${events.toLocaleString('en-US')} rows in batches of ${BATCH}`);
  const raw = await rawInsert('client', requests, BATCH);
  ctx.log(`  ${raw.rowsPerS.toFixed(0)} rows/s`);
  // What the engine takes at best on this machine, with nothing else running: the ceiling for any service.
  const ceilingBatches = Math.max(10, Math.round(events / CEILING_BATCH));
  ctx.log(
    `batch ingest: engine ceiling, ${(ceilingBatches * CEILING_BATCH).toLocaleString('en-US')} rows in passthrough inserts of ${CEILING_BATCH}, 2 at a time`,
  );
  const ceiling = await rawInsert('passthrough', ceilingBatches, CEILING_BATCH, 2);
  ctx.log(`  ${ceiling.rowsPerS.toFixed(0)} rows/s`);
  const parseOnly = await rawInsert('parse-only', ceilingBatches, CEILING_BATCH, 2);
  ctx.log(`  into a Null table (JSON parsing only): ${parseOnly.rowsPerS.toFixed(0)} rows/s`);

  ctx.log(`batch ingest: embedded app, ${requests} POSTs of ${BATCH} events over ${CONNECTIONS} connections`);
  const dataDir = freshDir(ctx, 'batch-ingest');
  const app = await startEmbeddedApp('app-batch-ingest', dataDir, {}, ctx.serviceNodeArgs);
  let acked: { perS: number; ok: number; failed: number; p99Ms: number };
  let visiblePerS: number;
  try {
    const url = `${app.url}/audit/events`;
    await postLoad({ url, body, connections: CONNECTIONS, amount: 5 });
    await sleep(1000);
    const before = await visibleTotal(app.url);
    const pid = app.child.proc.pid!;
    const consumer0 = await consumerStats(`${app.url}/metrics`);
    const cpu = cpuSplit(pid);
    const t0 = performance.now();
    const load = await postLoad({ url, body, connections: CONNECTIONS, amount: requests });
    ctx.log(`  until acknowledged: ${formatCpu(cpuSince(pid, cpu), load.elapsedS)}`);
    acked = { perS: (load.ok * BATCH) / load.elapsedS, ok: load.ok, failed: load.failed, p99Ms: load.p99Ms };
    const tVisible = await waitVisible(app.url, before + load.ok * BATCH, 300_000);
    visiblePerS = (load.ok * BATCH) / ((tVisible - t0) / 1000);
    ctx.log(`  until visible: ${formatCpu(cpuSince(pid, cpu), (tVisible - t0) / 1000)}`);
    ctx.log(`  ${describeConsumer(consumer0, await consumerStats(`${app.url}/metrics`))}`);
    ctx.log(
      `  acknowledged ${acked.perS.toFixed(0)} events/s (p99 ${load.p99Ms} ms per request), visible ${visiblePerS.toFixed(0)} events/s`,
    );
  } finally {
    await stop(app.child);
    removeDir(dataDir);
  }

  const scenario = 'Batch ingest, embedded';
  const note = `${events.toLocaleString('en-US')} events, ${CONNECTIONS} connections${acked.failed ? `, ${acked.failed} failed requests` : ''}`;
  return [
    {
      scenario,
      measure: 'events/s acknowledged (2xx)',
      service: acked.perS,
      limit: raw.rowsPerS,
      limitIs: 'chdb plain insert, same rows & DDL',
      unit: 'ev/s',
      target: '≥ 100,000 ev/s and ≥ 0.50',
      met: acked.perS >= 100_000 && acked.perS / raw.rowsPerS >= 0.5,
      note,
    },
    {
      scenario,
      measure: 'events/s until visible in GET total',
      service: visiblePerS,
      limit: raw.rowsPerS,
      limitIs: 'chdb plain insert, same rows & DDL',
      unit: 'ev/s',
    },
    {
      scenario,
      measure: 'events/s until visible in GET total, against the engine ceiling',
      service: visiblePerS,
      limit: ceiling.rowsPerS,
      limitIs: `chdb passthrough inserts of ${CEILING_BATCH.toLocaleString('en-US')} rows, 2 at a time, same DDL`,
      unit: 'ev/s',
      note: `the same rows into a Null table (JSON parsing only): ${Math.round(parseOnly.rowsPerS).toLocaleString('en-US')} rows/s`,
    },
  ];
}
