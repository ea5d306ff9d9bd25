/**
 * CPU per request of the embedded app at a fixed request rate: steadier than req/s on a shared machine (the
 * fifth round in docs/performance.md). `node dist/bench/cpu-per-request.js [<repo dir with a built dist>] [label]`
 * runs the app of that checkout (default: this one) with the environment given (AUDIT_CAPABILITIES_OFF, ...)
 * and prints one JSON line: single-event POSTs at 1,000 req/s, 40 POSTs of 1,000 events, 2,000 page queries at
 * 200 req/s, each as JS-thread and all-thread µs per request (or per event), minus the app's idle CPU.
 * It loads that checkout's own bench helpers, so it also measures commits older than itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */
const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
const label = process.argv[3] ?? path.basename(dir);
const P = require(path.join(dir, 'dist/bench/lib/processes.js')) as typeof import('./lib/processes');
const L = require(path.join(dir, 'dist/bench/lib/load.js')) as typeof import('./lib/load');
const M = require(path.join(dir, 'dist/bench/lib/mix.js')) as typeof import('./lib/mix');
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<any>;
/* eslint-enable @typescript-eslint/no-require-imports, @typescript-eslint/no-explicit-any */

const all = (c: { main: number; node: number; engine: number }): number => c.main + c.node + c.engine;

async function main(): Promise<void> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'cpu-per-request-'));
  const app = await P.startEmbeddedApp(`cpu-per-request-${label}`, data, { AUDIT_LOG_FSYNC: 'false' });
  const pid = app.child.proc.pid!;
  const url = app.url;
  const out: Record<string, unknown> = { label };
  try {
    const single = JSON.stringify(M.SINGLE_EVENT);
    await P.sleep(2000);
    await L.postLoad({ url: `${url}/audit/events`, body: single, connections: 20, amount: 3000, overallRate: 1000 });
    await P.sleep(2000);
    const idle0 = P.cpuSplit(pid);
    await P.sleep(5000);
    const idle = P.cpuSince(pid, idle0);
    const idleJs = idle.main / 5;
    const idleAll = all(idle) / 5;
    const per = (used: ReturnType<typeof P.cpuSince>, seconds: number, n: number) => ({
      jsUs: ((used.main - idleJs * seconds) / n) * 1e6,
      allUs: ((all(used) - idleAll * seconds) / n) * 1e6,
    });

    let c = P.cpuSplit(pid);
    let r = await L.postLoad({ url: `${url}/audit/events`, body: single, connections: 20, amount: 15000, overallRate: 1000 });
    await P.sleep(3000);
    out.single = { ok: r.ok, failed: r.failed, p99Ms: r.p99Ms, ...per(P.cpuSince(pid, c), r.elapsedS + 3, r.ok) };

    c = P.cpuSplit(pid);
    r = await L.postLoad({ url: `${url}/audit/events`, body: JSON.stringify(M.eventBatch(1000)), connections: 4, amount: 40 });
    // The consumers finish meanwhile: their work is counted per event.
    await P.sleep(5000);
    out.batchPerEvent = { ok: r.ok, eventsPerS: (r.ok * 1000) / r.elapsedS, ...per(P.cpuSince(pid, c), r.elapsedS + 5, r.ok * 1000) };

    c = P.cpuSplit(pid);
    const q = await autocannon({
      url: `${url}/audit/events?limit=50&category=security_events`,
      headers: P.AUTH_HEADERS,
      connections: 4,
      amount: 2000,
      overallRate: 200,
    });
    const seconds = (q.finish.getTime() - q.start.getTime()) / 1000;
    out.page = { ok: q['2xx'], p50Ms: q.latency.p50, p99Ms: q.latency.p99, ...per(P.cpuSince(pid, c), seconds, q['2xx']) };
  } finally {
    await P.stop(app.child);
    rmSync(data, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
