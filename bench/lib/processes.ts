import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
export const APP_MAIN = path.join(DIST, 'apps', 'all-in-one', 'src', 'main.js');

const children = new Set<ChildProcess>();

/** Every child the bench started is ended with it, whatever way the bench exits. */
function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export interface Child {
  proc: ChildProcess;
  name: string;
  logFile: string;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
}

/** How a child is launched: `wrapper` runs before node (e.g. valgrind and its options), `cwd` defaults to ROOT. */
export interface LaunchOptions {
  wrapper?: string[];
  cwd?: string;
}

/** Starts `node <script>` with its output in bench/results/logs/<name>.log. */
export function startNode(
  name: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  args: string[] = [],
  launch: LaunchOptions = {},
): Child {
  const logDir = path.join(RESULTS_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const [command, ...prefix] = [...(launch.wrapper ?? []), process.execPath];
  const proc = spawn(command, [...prefix, ...nodeArgs, script, ...args], {
    cwd: launch.cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.pipe(log, { end: false });
  proc.stderr?.pipe(log, { end: false });
  children.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  return { proc, name, logFile, exited };
}

/** Runs a worker script to completion; its last stdout line is JSON, returned parsed. */
export async function runWorker<T>(name: string, script: string, input: unknown, env: Record<string, string> = {}): Promise<T> {
  const child = startNode(name, script, { ...env, BENCH_INPUT: JSON.stringify(input) });
  let out = '';
  child.proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await child.exited;
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`${name} exited with ${code}; see ${child.logFile}`);
  return JSON.parse(last) as T;
}

export async function stop(child: Child, timeoutMs = 20_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), timeoutMs);
  await child.exited;
  clearTimeout(timer);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers 200, failing early if the child exits. */
export async function waitForHttp(url: string, child: Child, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited during start-up; see ${child.logFile}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms; see ${child.logFile}`);
}

/** Resident set size of a process in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Samples RSS every `everyMs` until stopped; returns the peak and mean in MiB. */
export function sampleRss(pid: number, everyMs = 200): { stop(): { peak: number; mean: number } } {
  const samples: number[] = [];
  const timer = setInterval(() => {
    try {
      samples.push(rssMiB(pid));
    } catch {
      // the process is gone
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      if (samples.length === 0) samples.push(rssMiB(pid));
      return { peak: Math.max(...samples), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
    },
  };
}

/**
 * Requests carry an API key as production clients do, so key checks and the per-key rate limiter are on the
 * measured path; the limit is set high enough never to bind.
 */
export const BENCH_API_KEY = 'bench-0123456789abcdef0123456789abcdef';
export const AUTH_HEADERS = { authorization: `Bearer ${BENCH_API_KEY}` };

/**
 * Starts the embedded all-in-one app on a data directory and waits until it is ready. `launch.root` runs
 * another checkout's built app (its dist/ and working directory) with this checkout's settings.
 */
export async function startEmbeddedApp(
  name: string,
  dataDir: string,
  extraEnv: Record<string, string> = {},
  nodeArgs: string[] = [],
  launch: LaunchOptions & { root?: string; readyTimeoutMs?: number } = {},
): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const root = launch.root ?? ROOT;
  const child = startNode(
    name,
    path.join(root, path.relative(ROOT, APP_MAIN)),
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      AUDIT_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      AUDIT_SELF_AUDIT_READS: 'false',
      AUDIT_BOOTSTRAP_API_KEY: BENCH_API_KEY,
      AUDIT_RATE_LIMIT_PER_MINUTE: '10000000',
      ...extraEnv,
    },
    nodeArgs,
    [],
    { wrapper: launch.wrapper, cwd: root },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health/ready`, child, launch.readyTimeoutMs);
  return { child, url };
}

/** CPU seconds a process has used so far, split into its main (JS) thread, Node's other threads, and the rest. */
export interface CpuSplit {
  main: number;
  node: number;
  engine: number;
}

/**
 * Per-thread CPU from /proc: the main thread runs all JavaScript; threads Node names "node" are V8's GC and
 * compiler helpers and libuv's pool; every other thread in an app process belongs to the embedded
 * ClickHouse engine (ThreadPool, MergeMutate, ...).
 */
export function cpuSplit(pid: number): CpuSplit {
  const tick = 100;
  const out: CpuSplit = { main: 0, node: 0, engine: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / tick;
      if (Number(tid) === pid) out.main += seconds;
      else if (name === 'node' || name.startsWith('libuv')) out.node += seconds;
      else out.engine += seconds;
    } catch {
      // the thread ended between listing and reading
    }
  }
  return out;
}

export function cpuSince(pid: number, start: CpuSplit): CpuSplit {
  const now = cpuSplit(pid);
  return { main: now.main - start.main, node: now.node - start.node, engine: now.engine - start.engine };
}

export const formatCpu = (c: CpuSplit, wallS: number): string =>
  `CPU over ${wallS.toFixed(0)} s: JS thread ${c.main.toFixed(1)} s, engine ${c.engine.toFixed(1)} s, GC/libuv ${c.node.toFixed(1)} s`;

/** CPU seconds (user + system) a whole process has used so far, or NaN when it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The query-store consumer's own counters from a /metrics page: batches, rows written, mean batch size and time. */
export async function consumerStats(metricsUrl: string): Promise<ConsumerStats> {
  const text = await (await authedGet(metricsUrl)).text();
  const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
  return {
    batches: value(/^audit_consumer_batch_duration_seconds_count(?:\{[^}]*\})? (\S+)$/m),
    seconds: value(/^audit_consumer_batch_duration_seconds_sum(?:\{[^}]*\})? (\S+)$/m),
    rows: value(/^audit_consumer_rows_total\{outcome="written"\} (\S+)$/m),
    inserts: value(/^audit_store_insert_duration_seconds_count(?:\{[^}]*\})? (\S+)$/m),
    insertSeconds: value(/^audit_store_insert_duration_seconds_sum(?:\{[^}]*\})? (\S+)$/m),
  };
}

export interface ConsumerStats {
  batches: number;
  rows: number;
  seconds: number;
  inserts: number;
  insertSeconds: number;
}

export function describeConsumer(before: ConsumerStats, after: ConsumerStats): string {
  const batches = after.batches - before.batches;
  const rows = after.rows - before.rows;
  const seconds = after.seconds - before.seconds;
  const inserts = after.inserts - before.inserts;
  const insertSeconds = after.insertSeconds - before.insertSeconds;
  return (
    `consumer: ${batches} batches, ${Math.round(rows / batches)} rows and ${Math.round((seconds / batches) * 1000)} ms each; ` +
    `${inserts} inserts, ${Math.round(rows / inserts)} rows and ${Math.round((insertSeconds / inserts) * 1000)} ms each`
  );
}

/**
 * A GET with the bench's API key, retried on a network error: the server may close an idle keep-alive
 * connection just as the next poll reuses it ("fetch failed"), which says nothing about the service.
 */
export async function authedGet(url: string, timeoutMs = 60_000): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, { headers: AUTH_HEADERS, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      if (attempt >= 3 || (e as Error).name === 'TimeoutError') throw e;
      await sleep(100);
    }
  }
}

/** A JSON POST with the bench's key: its status and parsed body. */
export async function postJson(url: string, body: unknown = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH_HEADERS },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(600_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The integrity tree's size now (a checkpoint signed for it). */
export async function treeSize(url: string): Promise<number> {
  const c = await postJson(`${url}/audit/integrity/checkpoint`);
  return Number(c.body.tree_size);
}

/** Signs checkpoints until the tree holds at least `size` events; returns when it did. */
export async function treeReaches(url: string, size: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await postJson(`${url}/audit/integrity/checkpoint`);
    if (c.status !== 201) throw new Error(`checkpoint answered ${c.status}: ${JSON.stringify(c.body)}`);
    if (Number(c.body.tree_size) >= size) return performance.now();
    if (Date.now() > deadline) throw new Error(`the tree holds ${String(c.body.tree_size)} of ${size} events after ${timeoutMs} ms`);
    await sleep(200);
  }
}
