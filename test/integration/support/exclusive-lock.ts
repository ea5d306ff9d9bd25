import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const LOCK = path.join(tmpdir(), 'homepot-audit-integration.lock');

function holderAlive(): boolean {
  try {
    const pid = Number(readFileSync(LOCK, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The suites that run services share one broker, one consumer group and stop the broker on purpose, so they
 * must not overlap when jest runs files in parallel workers. A lock file holding the worker's pid serializes
 * them; one left by a worker that died is taken over.
 */
export async function acquireExclusive(timeoutMs = 15 * 60_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(LOCK, 'utf8') === String(process.pid)) unlinkSync(LOCK);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!holderAlive()) {
        try {
          unlinkSync(LOCK);
        } catch {
          // Another waiter removed it first.
        }
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK} (held by pid ${readFileSync(LOCK, 'utf8')})`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
