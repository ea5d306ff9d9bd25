import * as path from 'node:path';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { LoadResult, postLoad } from '../lib/load';
import { SINGLE_EVENT } from '../lib/mix';
import {
  cpuSince,
  cpuSplit,
  DIST,
  formatCpu,
  freePort,
  rssMiB,
  sampleRss,
  sleep,
  startEmbeddedApp,
  startNode,
  stop,
  waitForHttp,
} from '../lib/processes';
import { Row } from '../lib/report';

const CONNECTIONS = 50;
const BODY = JSON.stringify(SINGLE_EVENT);

interface Measured {
  load: LoadResult;
  idleRss: number;
  loadRss: { peak: number; mean: number };
}

async function measure(ctx: BenchContext, url: string, pid: number, durationS: number): Promise<Measured> {
  await sleep(2000);
  const idleRss = rssMiB(pid);
  // Warm-up: JIT, connection set-up, first segment and first inserts; not counted.
  await postLoad({ url: `${url}/audit/events`, body: BODY, connections: CONNECTIONS, durationS: 3 });
  const sampler = sampleRss(pid);
  const cpu = cpuSplit(pid);
  const load = await postLoad({ url: `${url}/audit/events`, body: BODY, connections: CONNECTIONS, durationS });
  const loadRss = sampler.stop();
  ctx.log(`  ${formatCpu(cpuSince(pid, cpu), load.elapsedS)}`);
  ctx.log(
    `  ${load.okPerS.toFixed(0)} req/s, p99 ${load.p99Ms} ms, ${load.failed} failed, RSS idle ${idleRss.toFixed(0)} MiB, peak ${loadRss.peak.toFixed(0)} MiB`,
  );
  return { load, idleRss, loadRss };
}

/** Single-event POSTs on the embedded app against bare Fastify, and the app's memory idle and under that load. */
export async function singleIngest(ctx: BenchContext): Promise<Row[]> {
  const durationS = ctx.full ? 30 : 10;

  ctx.log(`single-event ingest: bare Fastify, ${CONNECTIONS} connections, ${durationS} s`);
  const port = await freePort();
  const bare = startNode('bare-fastify', path.join(DIST, 'bench', 'workers', 'bare-fastify.js'), { PORT: String(port) });
  let base: Measured;
  try {
    await waitForHttp(`http://127.0.0.1:${port}/health/ready`, bare);
    base = await measure(ctx, `http://127.0.0.1:${port}`, bare.proc.pid!, durationS);
  } finally {
    await stop(bare);
  }

  // The first start on an empty data directory initialises PGlite's cluster, which leaves its WASM heap
  // (never returned to the OS) about 500 MiB larger than on any later start: measured apart, then restarted.
  const dataDir = freshDir(ctx, 'single-ingest');
  const first = await startEmbeddedApp('app-single-ingest-first-start', dataDir);
  await sleep(2000);
  const firstStartRss = rssMiB(first.child.proc.pid!);
  await stop(first.child);
  ctx.log(`single-event ingest: embedded app (restarted on its data dir), ${CONNECTIONS} connections, ${durationS} s`);
  const app = await startEmbeddedApp('app-single-ingest', dataDir, {}, ctx.serviceNodeArgs);
  let svc: Measured;
  try {
    svc = await measure(ctx, app.url, app.child.proc.pid!, durationS);
  } finally {
    await stop(app.child);
    removeDir(dataDir);
  }

  const scenario = 'Single-event ingest';
  const ratio = svc.load.okPerS / base.load.okPerS;
  const note = `${CONNECTIONS} connections, ${durationS} s${svc.load.failed ? `, ${svc.load.failed} non-2xx/errors` : ''}`;
  return [
    {
      scenario,
      measure: 'POST /audit/events req/s',
      service: svc.load.okPerS,
      limit: base.load.okPerS,
      limitIs: 'bare Fastify',
      unit: 'req/s',
      target: '≥ 0.60',
      met: ratio >= 0.6,
      note,
    },
    {
      scenario,
      measure: 'POST /audit/events p99 latency',
      service: svc.load.p99Ms,
      limit: base.load.p99Ms,
      limitIs: 'bare Fastify',
      unit: 'ms',
    },
    {
      scenario: 'Memory',
      measure: 'RSS idle, first start on an empty data dir',
      service: firstStartRss,
      limit: base.idleRss,
      limitIs: 'bare Fastify',
      unit: 'MiB',
    },
    {
      scenario: 'Memory',
      measure: 'RSS idle, restarted on its data dir',
      service: svc.idleRss,
      limit: base.idleRss,
      limitIs: 'bare Fastify',
      unit: 'MiB',
    },
    {
      scenario: 'Memory',
      measure: 'RSS peak under the single-event load',
      service: svc.loadRss.peak,
      limit: base.loadRss.peak,
      limitIs: 'bare Fastify',
      unit: 'MiB',
    },
  ];
}
