import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '../../..');
export const MAIN = path.join(ROOT, 'dist/apps/all-in-one/src/main.js');

export interface TestApp {
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the process printed, for assertions and for failure messages. */
  output(): string;
  /** SIGTERM and wait; `keepData` leaves the data directory for a restart. */
  close(options?: { keepData?: boolean }): Promise<void>;
  /** SIGKILL: a crash, with no chance to flush anything. */
  kill9(): Promise<void>;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * Starts the built embedded app (dist/, built by the e2e global setup) as its own process on a random
 * port with its own data directory, and resolves once it logs that it listens.
 */
export async function bootApp(env: Record<string, string> = {}, dataDir?: string): Promise<TestApp> {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'audit-e2e-'));
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', AUDIT_DATA_DIR: dir, LOG_LEVEL: 'info', AUDIT_BATCH_INTERVAL_MS: '20', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not start within 60 s:\n${out.slice(-4000)}`)), 60_000);
    const onData = (): void => {
      const m = /"url":"(https?:\/\/[^"]+)"[^\n]*is (running|listening)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited with ${code} before listening:\n${out.slice(-4000)}`));
    });
  });
  return {
    url,
    dataDir: dir,
    child,
    output: () => out,
    close: async (options = {}) => {
      child.kill('SIGTERM');
      await waitForExit(child);
      if (!options.keepData) rmSync(dir, { recursive: true, force: true });
    },
    kill9: async () => {
      child.kill('SIGKILL');
      await waitForExit(child);
    },
  };
}

export interface Json {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function http(url: string, init: RequestInit & { json?: unknown } = {}): Promise<Json> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  const res = await fetch(url, { ...init, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the query store has stored everything on the embedded log (its consumer group's lag is 0), so
 * what a listing reads next no longer moves under it.
 */
export async function storeCaughtUp(url: string, timeoutMs = 30_000): Promise<void> {
  await eventually(
    async () => ((await http(`${url}/audit/performance`)).body.store?.consumer_lag?.['audit.query-store.v1'] === 0 ? true : undefined),
    timeoutMs,
    'the query store to catch up with the log',
  );
}

/** Waits until GET /audit/events?<query> reports `total`. */
export async function waitForTotal(url: string, query: string, total: number, timeoutMs = 15_000): Promise<Json> {
  return eventually(
    async () => {
      const r = await http(`${url}/audit/events?${query}`);
      // The page and its total are two queries: an insert landing between them can make them disagree for a
      // moment, so wait until both show the events.
      const pageFull = r.status === 200 && r.body.events.length === Math.min(total, r.body.limit);
      return pageFull && r.body.total === total ? r : undefined;
    },
    timeoutMs,
    `total ${total} for ${query}`,
  );
}
