import { mkdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface BenchContext {
  full: boolean;
  /** Scratch space for data directories; removed at the end unless --keep. */
  workDir: string;
  log(message: string): void;
}

export function createContext(full: boolean): BenchContext {
  const workDir = path.join(os.tmpdir(), `homepot-bench-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  const started = Date.now();
  return {
    full,
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
