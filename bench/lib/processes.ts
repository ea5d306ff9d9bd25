import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
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

/** Starts `node <script>` with its output in bench/results/logs/<name>.log. */
export function startNode(name: string, script: string, env: Record<string, string>, nodeArgs: string[] = [], args: string[] = []): Child {
  const logDir = path.join(RESULTS_DIR, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: ROOT,
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

/** Starts the embedded all-in-one app on a data directory and waits until it is ready. */
export async function startEmbeddedApp(
  name: string,
  dataDir: string,
  extraEnv: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = startNode(
    name,
    APP_MAIN,
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
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health/ready`, child);
  return { child, url };
}
