/** Exponential back-off with full jitter, capped; used wherever a downstream store is unavailable. */
export function backoffDelayMs(attempt: number, baseMs = 100, capMs = 30_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.floor(exp / 2 + (Math.random() * exp) / 2);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
