import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/**
 * The lock shared by everything that drives the one local Kafka broker and consumer group (the integration
 * suites and the distributed benchmark): a file created exclusively, holding the holder's pid, and taken
 * over when that pid is gone.
 */
export const BROKER_LOCK = path.join(tmpdir(), 'homepot-audit-integration.lock');

export class LockTimeoutError extends Error {}

function holder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export async function acquireExclusiveLock(timeoutMs: number, file = BROKER_LOCK): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = holder(file);
      if (pid === undefined) {
        try {
          unlinkSync(file);
        } catch {
          // Another waiter removed it first.
        }
        continue;
      }
      if (Date.now() > deadline) throw new LockTimeoutError(`timed out waiting for ${file} (held by pid ${pid})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
