import { mkdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface BenchContext {
  full: boolean;
  /** Node flags for the service processes: --cpu-prof writes a profile per process into bench/results/profiles. */
  serviceNodeArgs: string[];
  /** Scratch space for data directories; removed at the end unless --keep. */
  workDir: string;
  log(message: string): void;
}

export function createContext(full: boolean, serviceNodeArgs: string[] = []): BenchContext {
  const workDir = path.join(os.tmpdir(), `homepot-bench-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  const started = Date.now();
  return {
    full,
    serviceNodeArgs,
    workDir,
    log: (message) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`),
  };
}

export function freshDir(ctx: BenchContext, name: string): string {
  const dir = path.join(ctx.workDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
