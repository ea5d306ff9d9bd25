/**
 * Instructions per request of the embedded app, counted by valgrind's callgrind: the count does not depend
 * on how fast the shared machine runs the instructions, though it still moves with timing (when a GC falls,
 * how events batch), so compare builds by several runs (docs/performance.md, "Instruction counts"). `node dist/bench/instructions-per-request.js [<checkout with a built dist>] [label]`
 * runs that checkout's app under callgrind with instrumentation off, warms it up, then counts, one phase at a
 * time: the idle app, single-event POSTs at a low fixed rate, POSTs of 1,000 events until the store holds
 * them, and page queries one after another. Each phase's count minus the idle rate over its duration,
 * divided by its requests (or events), is printed as one JSON line, for the JavaScript thread and all threads.
 * The requests come from this checkout's bench helpers, so every build gets the same bodies and environment.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { postLoad } from './lib/load';
import { eventBatch, SINGLE_EVENT } from './lib/mix';
import { AUTH_HEADERS, authedGet, sleep, startEmbeddedApp, stop } from './lib/processes';

const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
const label = process.argv[3] ?? path.basename(root);

/** Far below what the app manages under callgrind (about 10 single POSTs/s), so every request arrives alone. */
const SINGLE = { amount: 300, ratePerS: 4 };
const BATCHES = 5;
const PAGES = 20;
const PAGE_QUERY = '/audit/events?limit=50&category=security_events';

/**
 * Where the main thread's instructions went, by the object and function callgrind names: JIT-compiled
 * JavaScript has no object ("???"), the interpreter and inline caches are V8's `Builtins_*`, and the garbage
 * collector's share moves with timing (when a major GC falls in a phase), so builds compare best without it.
 */
const KINDS = ['jit', 'builtins', 'json', 'gc', 'v8Other', 'nodeUv', 'engine', 'libs'] as const;
type Kind = (typeof KINDS)[number];
const GC_RE =
  /Scaveng|MarkCompact|Marking|Sweep|Evacuat|heap::|Heap::|GCTracer|IterateObjectCache|StringTableCleaner|PointersUpdating|IteratePointers|SizeFromMap|RememberedSet|SlotSet/;

function kindOf(object: string, fn: string): Kind {
  if (object === '???') return 'jit';
  if (object.includes('chdb')) return 'engine';
  if (!object.endsWith('/node')) return 'libs';
  if (GC_RE.test(fn)) return 'gc';
  if (fn.startsWith('Builtins_')) return 'builtins';
  if (fn.includes('Json')) return 'json';
  return /^(uv_|uv__|node::)/.test(fn) ? 'nodeUv' : 'v8Other';
}

/**
 * Self cost by kind from one callgrind dump. Names are compressed (`fn=(12) name` once, `fn=(12)` after);
 * the cost line after `calls=` is the callee's inclusive cost, already counted as the callee's self cost.
 */
export function costByKind(text: string): Record<Kind, number> {
  const out = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const names = { ob: new Map<string, string>(), fn: new Map<string, string>() };
  const name = (kind: 'ob' | 'fn', rest: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(rest);
    if (!m) return rest;
    if (m[2] !== undefined) names[kind].set(m[1], m[2]);
    return names[kind].get(m[1]) ?? m[1];
  };
  let ob = '???';
  let fn = '';
  let kind: Kind = 'jit';
  let skip = false;
  for (const line of text.split('\n')) {
    if (skip) {
      skip = false;
    } else if (/^[\d+*-]/.test(line)) {
      out[kind] += Number(line.split(' ')[1] ?? 0);
    } else if (line.startsWith('ob=')) {
      ob = name('ob', line.slice(3));
      kind = kindOf(ob, fn);
    } else if (line.startsWith('fn=')) {
      fn = name('fn', line.slice(3));
      kind = kindOf(ob, fn);
    } else if (line.startsWith('cob=')) {
      name('ob', line.slice(4));
    } else if (line.startsWith('cfn=')) {
      name('fn', line.slice(4));
    } else if (line.startsWith('calls=')) {
      skip = true;
    }
  }
  return out;
}

interface Count {
  /** Instructions of the main thread, which runs all JavaScript. */
  main: number;
  /** The main thread's instructions by kind (see costByKind). */
  mainByKind: Record<Kind, number>;
  /** Instructions of every thread: the main one, V8's and libuv's helpers and the embedded engine's. */
  all: number;
  seconds: number;
}

/** Drives callgrind in the app's process through `callgrind_control` (vgdb) and reads its dumps. */
class Callgrind {
  private part = 0;

  constructor(
    private readonly pid: number,
    private readonly outDir: string,
  ) {}

  /** Counts the instructions the process runs while `work` does. */
  async count(work: () => Promise<void>): Promise<Count> {
    this.control('-z');
    this.control('-i', 'on');
    const t0 = performance.now();
    await work();
    const seconds = (performance.now() - t0) / 1000;
    this.control('-i', 'off');
    this.control('-d');
    this.part++;
    return { ...(await this.readPart(this.part)), seconds };
  }

  private control(...args: string[]): void {
    // vgdb names its pipes after $HOST, which the app's environment sets to its listen address.
    execFileSync('callgrind_control', [...args, String(this.pid)], { env: { ...process.env, HOST: '127.0.0.1' }, stdio: 'ignore' });
  }

  /** With --separate-threads=yes a dump writes one file per thread: `cg.<pid>.<part>-<thread>`. */
  private async readPart(part: number): Promise<Omit<Count, 'seconds'>> {
    const prefix = `cg.${this.pid}.${part}-`;
    for (let attempt = 0; attempt < 100; attempt++) {
      const files = readdirSync(this.outDir).filter((f) => f.startsWith(prefix));
      const totals = files.map((f) => {
        const text = readFileSync(path.join(this.outDir, f), 'utf8');
        const total = /^totals: (\d+)/m.exec(text);
        const thread = Number(/^thread: (\d+)/m.exec(text)?.[1]);
        return { thread, ir: total ? Number(total[1]) : NaN, byKind: thread === 1 && total ? costByKind(text) : undefined };
      });
      if (files.length > 0 && totals.every((t) => Number.isFinite(t.ir))) {
        return {
          main: totals.filter((t) => t.thread === 1).reduce((a, t) => a + t.ir, 0),
          mainByKind: totals.find((t) => t.byKind)?.byKind ?? costByKind(''),
          all: totals.reduce((a, t) => a + t.ir, 0),
        };
      }
      await sleep(200);
    }
    throw new Error(`callgrind wrote no complete dump ${prefix}* in ${this.outDir}`);
  }
}

/**
 * One request over node:http, with no client timeout: under callgrind on a loaded machine one batch or page
 * can take minutes (fetch gives up on headers after 300 s), and a request given up on would still be counted.
 */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `n` requests one after another; returns how many answered 2xx. */
async function sequential(n: number, request: (i: number) => Promise<number>): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const status = await request(i);
    if (status >= 200 && status < 300) ok++;
  }
  return ok;
}

const getPages = (url: string, n: number): Promise<number> => sequential(n, () => send(`${url}${PAGE_QUERY}`, 'GET', AUTH_HEADERS));

const postBatches = (events: string, n: number, seed: number): Promise<number> =>
  sequential(n, (i) =>
    send(events, 'POST', { ...AUTH_HEADERS, 'content-type': 'application/json' }, JSON.stringify(eventBatch(1000, seed + i))),
  );

/**
 * Waits until the query store's consumer has written every event the app accepted (polled once a second).
 * Counted from the app's own metrics, not from what was sent: 4c2f46f rejects some events of this checkout's
 * mix (31 of the 5,000 warm-up batch events), which would never be stored.
 */
async function storeCaughtUp(url: string): Promise<void> {
  const deadline = Date.now() + 1_800_000;
  for (;;) {
    const text = await (await authedGet(`${url}/metrics`)).text();
    const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
    const accepted = value(/^audit_events_ingested_total\{status="accepted"\} (\S+)$/m);
    if (value(/^audit_consumer_rows_total\{outcome="written"\} (\S+)$/m) >= accepted) return;
    if (Date.now() > deadline) throw new Error(`the store did not catch up with the ${accepted} events accepted`);
    await sleep(1000);
  }
}

/** BENCH_NODE_ARGS: options for the app's node, e.g. `--predictable` (no concurrent GC or compilation). */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'instructions-per-request-'));
  const wrapper = [
    'valgrind',
    '--tool=callgrind',
    '--instr-atstart=no',
    '--separate-threads=yes',
    '--dump-line=no',
    `--callgrind-out-file=${path.join(dir, 'cg.%p')}`,
  ];
  const app = await startEmbeddedApp(`instructions-per-request-${label}`, path.join(dir, 'data'), { AUDIT_LOG_FSYNC: 'false' }, nodeArgs, {
    root,
    wrapper,
    readyTimeoutMs: 600_000,
  });
  const url = app.url;
  const events = `${url}/audit/events`;
  const single = JSON.stringify(SINGLE_EVENT);
  const cg = new Callgrind(app.child.proc.pid!, dir);
  const out: Record<string, unknown> = { label };
  try {
    // Warm-up, uncounted: the JIT compiles the hot paths and the store holds pages to query.
    await postLoad({ url: events, body: single, connections: 4, amount: 2000 });
    await postBatches(events, 5, 100);
    await getPages(url, 20);
    // The idle phase must find the consumer caught up, or its catching up is counted as idle (and then
    // subtracted from every phase): seen once on the loaded machine.
    await storeCaughtUp(url);
    await sleep(5000);

    const idle = await cg.count(() => sleep(20_000));
    const per = (c: Count, n: number) => ({
      n,
      seconds: Math.round(c.seconds),
      mainK: Math.round((c.main - (idle.main / idle.seconds) * c.seconds) / n / 1000),
      allK: Math.round((c.all - (idle.all / idle.seconds) * c.seconds) / n / 1000),
      // The main thread by kind, idle not subtracted (it is small: about 0.25M instructions a second).
      mainKByKind: Object.fromEntries(KINDS.map((k) => [k, Math.round(c.mainByKind[k] / n / 1000)])),
      mainKWithoutGc: Math.round((c.main - c.mainByKind.gc - (idle.main / idle.seconds) * c.seconds) / n / 1000),
    });
    out.idlePerS = { mainK: Math.round(idle.main / idle.seconds / 1000), allK: Math.round(idle.all / idle.seconds / 1000) };

    let ok = 0;
    const s = await cg.count(async () => {
      const r = await postLoad({ url: events, body: single, connections: 1, amount: SINGLE.amount, overallRate: SINGLE.ratePerS });
      ok = r.ok;
      await sleep(3000);
    });
    out.single = per(s, ok);

    let batchesOk = 0;
    const b = await cg.count(async () => {
      batchesOk = await postBatches(events, BATCHES, 200);
      await storeCaughtUp(url);
    });
    out.batchPerEvent = per(b, batchesOk * 1000);

    let pages = 0;
    const p = await cg.count(async () => {
      pages = await getPages(url, PAGES);
    });
    // A page the app refused (its query time limit is wall-clock, and callgrind slows it 50-fold) still
    // cost instructions: the figure is per page answered, with the refusals shown beside it.
    out.page = { ...per(p, pages), refused: PAGES - pages };
  } finally {
    await stop(app.child, 120_000);
    // BENCH_KEEP_DUMPS=1 keeps callgrind's files, per phase and thread, for callgrind_annotate.
    if (process.env.BENCH_KEEP_DUMPS) process.stderr.write(`callgrind dumps kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
