import { acquireExclusiveLock } from '@app/common';

/**
 * The suites that run services share one broker, one consumer group and stop the broker on purpose, so they
 * must not overlap when jest runs files in parallel workers (nor with the distributed benchmark).
 */
export function acquireExclusive(timeoutMs = 15 * 60_000): Promise<() => void> {
  return acquireExclusiveLock(timeoutMs);
}
