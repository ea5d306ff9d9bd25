import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { APPS } from '@app/common';
import { ROOT } from './environment';

export type AppName =
  'api-gateway' | 'ingest-gateway' | 'query-store' | 'reporting' | 'alerting' | 'integrity' | 'siem-forwarder' | 'retention';

/** One app of the distributed deployment, run from dist/ as its own OS process with its output in a file. */
export class AppProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  readonly logFile: string;

  constructor(
    readonly name: string,
    private readonly app: AppName,
    private readonly env: Record<string, string>,
    logDir: string,
  ) {
    this.logFile = path.join(logDir, `${name}.log`);
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    const out = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [path.join(ROOT, APPS[this.app])], { cwd: ROOT, env: this.env, stdio: ['ignore', out, out] });
    closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed or committed. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and a grace period, then SIGKILL. */
  async stop(graceMs = 20_000): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGTERM');
    const started = Date.now();
    const timer = setTimeout(() => {
      // A shutdown that hangs is a bug of the app (and slows every suite): say so.
      console.warn(`${this.name} did not exit within ${graceMs} ms of SIGTERM; killing it:\n${this.logTail(15)}`);
      this.child?.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    if (Date.now() - started > 5000) console.warn(`${this.name} took ${Date.now() - started} ms to shut down`);
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Resolves once `url` answers 200; fails early, with the app's log, if the process exits or it takes too long. */
  async waitUntilReady(url: string, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited before becoming ready:\n${this.logTail()}`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        if (res.status === 200) return;
        last = `${res.status} ${await res.text()}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${this.name} not ready at ${url} after ${timeoutMs} ms (last: ${last}):\n${this.logTail()}`);
  }
}
