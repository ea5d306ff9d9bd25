import { performance } from 'node:perf_hooks';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { percentile, postLoad } from '../lib/load';
import { eventBatch } from '../lib/mix';
import {
  authedGet,
  cpuSince,
  cpuSplit,
  formatCpu,
  postJson as post,
  rssMiB,
  sampleRss,
  sleep,
  startEmbeddedApp,
  stop,
  treeReaches,
  treeSize,
} from '../lib/processes';
import { Row } from '../lib/report';

const BATCH = 1000;
const CONNECTIONS = 4;
const PROOFS = 500;

interface Ingested {
  ackedPerS: number;
  intoTreePerS?: number;
  cpuUsPerEvent: number;
  failed: number;
}

/** Batches of 1,000 POSTed; with integrity on, also the rate until the tree holds them all. */
async function ingest(ctx: BenchContext, url: string, pid: number, requests: number, withTree: boolean): Promise<Ingested> {
  const body = JSON.stringify(eventBatch(BATCH, 7));
  await postLoad({ url: `${url}/audit/events`, body, connections: CONNECTIONS, amount: 5 });
  const start = withTree ? await treeSize(url) : 0;
  const cpu = cpuSplit(pid);
  const t0 = performance.now();
  const load = await postLoad({ url: `${url}/audit/events`, body, connections: CONNECTIONS, amount: requests });
  const events = load.ok * BATCH;
  const out: Ingested = { ackedPerS: events / load.elapsedS, failed: load.failed, cpuUsPerEvent: NaN };
  if (withTree) {
    const t1 = await treeReaches(url, start + events, 600_000);
    out.intoTreePerS = events / ((t1 - t0) / 1000);
  }
  // Until the consumers are idle again: the CPU an event costs, whoever spends it.
  await sleep(3000);
  const used = cpuSince(pid, cpu);
  ctx.log(`  ${formatCpu(used, (performance.now() - t0) / 1000)}`);
  out.cpuUsPerEvent = ((used.main + used.node + used.engine) / events) * 1e6;
  return out;
}

interface Verified {
  perS: number;
  leaves: number;
  ok: boolean;
  seconds: number;
  rssBefore: number;
  rssPeak: number;
  /** The same verify for the middle tenth of the events' time span: what a range walks of the tree. */
  range: { leaves: number; seconds: number; ok: boolean };
}

/** The middle tenth of the time the stored events span, as a verify body. */
async function middleTenth(url: string): Promise<{ from: string; to: string }> {
  const edge = async (order: string) => {
    const page = (await (await authedGet(`${url}/audit/events?limit=1&order=${order}`)).json()) as { events: Array<{ timestamp: string }> };
    return Date.parse(page.events[0].timestamp);
  };
  const [first, last] = [await edge('asc'), await edge('desc')];
  const at = (f: number) => new Date(first + (last - first) * f).toISOString();
  return { from: at(0.45), to: at(0.55) };
}

/** Once the query store shows every event in the tree: one whole-tenant verify, then PROOFS proofs one at a time. */
async function verifyAndProve(ctx: BenchContext, url: string, pid: number): Promise<{ verify: Verified; proofMs: number[] }> {
  const size = await treeSize(url);
  for (let i = 0; ; i++) {
    const page = (await (await authedGet(`${url}/audit/events?limit=1`)).json()) as { total: number };
    if (page.total >= size - 5) break;
    if (i > 3000) throw new Error(`the store shows ${page.total} of ${size} events`);
    await sleep(200);
  }
  const rssBefore = rssMiB(pid);
  const rss = sampleRss(pid, 100);
  const t0 = performance.now();
  const report = await post(`${url}/audit/integrity/verify`);
  const seconds = (performance.now() - t0) / 1000;
  const { peak } = rss.stop();
  if (report.status !== 200) throw new Error(`verify answered ${report.status}: ${JSON.stringify(report.body).slice(0, 300)}`);
  const leaves = Number(report.body.leaves_checked);
  ctx.log(
    `  verified ${leaves} leaves in ${seconds.toFixed(1)} s (ok: ${String(report.body.ok)}), RSS ${Math.round(rssBefore)} MiB before, peak ${Math.round(peak)} MiB`,
  );
  const body = await middleTenth(url);
  const r0 = performance.now();
  const ranged = await post(`${url}/audit/integrity/verify`, body);
  if (ranged.status !== 200) throw new Error(`verify of a range answered ${ranged.status}: ${JSON.stringify(ranged.body).slice(0, 300)}`);
  const range = { leaves: Number(ranged.body.leaves_checked), seconds: (performance.now() - r0) / 1000, ok: ranged.body.ok === true };
  ctx.log(`  verified ${body.from} to ${body.to}: ${range.leaves} leaves in ${range.seconds.toFixed(2)} s (ok: ${String(range.ok)})`);
  const verify = { perS: leaves / seconds, leaves, ok: report.body.ok === true, seconds, rssBefore, rssPeak: peak, range };
  await treeReaches(url, size, 60_000);
  const page = (await (await authedGet(`${url}/audit/events?limit=${PROOFS}&order=asc`)).json()) as { events: Array<{ id: string }> };
  const proofMs: number[] = [];
  for (const e of page.events) {
    const t = performance.now();
    const res = await authedGet(`${url}/audit/events/${e.id}/proof`);
    await res.arrayBuffer();
    if (res.status === 200) proofMs.push(performance.now() - t);
  }
  proofMs.sort((a, b) => a - b);
  ctx.log(`  ${proofMs.length} proofs, p50 ${percentile(proofMs, 50).toFixed(1)} ms, p99 ${percentile(proofMs, 99).toFixed(1)} ms`);
  return { verify, proofMs };
}

const verifyRows = (scenario: string, verify: Verified, proofMs: number[]): Row[] => [
  {
    scenario,
    measure: 'POST /audit/integrity/verify, whole tenant',
    service: verify.perS,
    limit: null,
    limitIs: '',
    unit: 'ev/s',
    note: `${verify.leaves.toLocaleString('en-US')} leaves in ${verify.seconds.toFixed(1)} s, ok: ${verify.ok}; RSS ${Math.round(verify.rssBefore)} MiB before, peak ${Math.round(verify.rssPeak)} MiB`,
  },
  {
    scenario,
    measure: 'POST /audit/integrity/verify, the middle tenth of the time span',
    service: verify.range.leaves / verify.range.seconds,
    limit: verify.perS,
    limitIs: 'whole-tenant verify rate',
    unit: 'ev/s',
    note: `${verify.range.leaves.toLocaleString('en-US')} leaves in ${verify.range.seconds.toFixed(2)} s, ok: ${verify.range.ok}`,
  },
  {
    scenario,
    measure: 'GET /audit/events/:id/proof p99',
    service: percentile(proofMs, 99),
    limit: null,
    limitIs: '',
    unit: 'ms',
    note: `${proofMs.length} proofs one at a time, p50 ${percentile(proofMs, 50).toFixed(1)} ms`,
  },
];

/**
 * Issue 13's rows: batch ingest with the integrity capability on against off (AUDIT_CAPABILITIES_OFF), the
 * rate events reach the tree, verification of the whole tenant (events/s) and inclusion proof latency.
 */
export async function integrity(ctx: BenchContext): Promise<Row[]> {
  const requests = ctx.full ? 1000 : 100;
  const events = requests * BATCH;

  ctx.log(`integrity: ${events.toLocaleString('en-US')} events in POSTs of ${BATCH}, integrity off`);
  const offDir = freshDir(ctx, 'integrity-off');
  const offApp = await startEmbeddedApp('app-integrity-off', offDir, { AUDIT_CAPABILITIES_OFF: 'integrity' }, ctx.serviceNodeArgs);
  let off: Ingested;
  try {
    off = await ingest(ctx, offApp.url, offApp.child.proc.pid!, requests, false);
  } finally {
    await stop(offApp.child);
    removeDir(offDir);
  }
  ctx.log(`  acknowledged ${off.ackedPerS.toFixed(0)} events/s, ${off.cpuUsPerEvent.toFixed(1)} µs CPU per event`);

  ctx.log(`integrity: the same, integrity on; then verify and ${PROOFS} proofs`);
  const onDir = freshDir(ctx, 'integrity-on');
  const onApp = await startEmbeddedApp('app-integrity-on', onDir, { AUDIT_CAPABILITIES_OFF: '' }, ctx.serviceNodeArgs);
  let on: Ingested;
  let verify: Verified;
  let proofMs: number[];
  try {
    on = await ingest(ctx, onApp.url, onApp.child.proc.pid!, requests, true);
    ctx.log(
      `  acknowledged ${on.ackedPerS.toFixed(0)} events/s, into the tree ${on.intoTreePerS!.toFixed(0)} events/s, ${on.cpuUsPerEvent.toFixed(1)} µs CPU per event`,
    );
    ({ verify, proofMs } = await verifyAndProve(ctx, onApp.url, onApp.child.proc.pid!));
  } finally {
    await stop(onApp.child);
    removeDir(onDir);
  }

  const scenario = 'Integrity';
  const note = `${events.toLocaleString('en-US')} events in POSTs of ${BATCH}, ${CONNECTIONS} connections`;
  return [
    {
      scenario,
      measure: 'batch ingest events/s acknowledged, integrity on',
      service: on.ackedPerS,
      limit: off.ackedPerS,
      limitIs: 'integrity off (AUDIT_CAPABILITIES_OFF)',
      unit: 'ev/s',
      target: '≥ 0.90',
      met: on.ackedPerS / off.ackedPerS >= 0.9,
      note,
    },
    {
      scenario,
      measure: 'events/s until in the integrity tree',
      service: on.intoTreePerS ?? null,
      limit: off.ackedPerS,
      limitIs: 'acknowledged, integrity off',
      unit: 'ev/s',
      note,
    },
    {
      scenario,
      measure: 'CPU per event (all threads, until idle)',
      service: on.cpuUsPerEvent,
      limit: off.cpuUsPerEvent,
      limitIs: 'integrity off',
      unit: 'µs',
    },
    ...verifyRows(scenario, verify, proofMs),
  ];
}

const VERIFY_EVENTS = 1_000_000;

/**
 * Issue 13's verification rate for a range of one million, on its own (the integrity scenario's --full run
 * ingests the million twice, with integrity off and on): one million events in POSTs of 1,000 into the app
 * with integrity on, then the whole-tenant verify and the proofs.
 */
export async function integrityVerify(ctx: BenchContext): Promise<Row[]> {
  const requests = VERIFY_EVENTS / BATCH;
  ctx.log(
    `integrity-verify: ${VERIFY_EVENTS.toLocaleString('en-US')} events in POSTs of ${BATCH}, integrity on; then verify and ${PROOFS} proofs`,
  );
  const dir = freshDir(ctx, 'integrity-verify');
  const app = await startEmbeddedApp('app-integrity-verify', dir, { AUDIT_CAPABILITIES_OFF: '' }, ctx.serviceNodeArgs);
  try {
    const on = await ingest(ctx, app.url, app.child.proc.pid!, requests, true);
    ctx.log(`  acknowledged ${on.ackedPerS.toFixed(0)} events/s, into the tree ${on.intoTreePerS!.toFixed(0)} events/s`);
    const { verify, proofMs } = await verifyAndProve(ctx, app.url, app.child.proc.pid!);
    return verifyRows('Integrity, 1M', verify, proofMs);
  } finally {
    await stop(app.child);
    removeDir(dir);
  }
}
