/**
 * Read after write. An event is acknowledged once it is durable on the log; the query store shows it a
 * batch interval later (about 200 ms by default). A client told 201 must not then be told 404, so a lookup
 * that finds nothing waits, up to AUDIT_READ_AFTER_WRITE_MS, until the store has projected everything the
 * log held when the lookup began, and looks again. The wait costs nothing when the store is caught up
 * (one read of each position), and only happens for ids that may have been written just now.
 */

/** Ids older than this (by their UUIDv7 time) are not waited for: they were acknowledged long ago. */
export const RECENT_ID_WINDOW_MS = 60_000;

/** Every partition of `end` (the next offsets of the log) is stored: `progress` holds the last stored offset. */
export function projectedUpTo(progress: Record<number, string>, end: Record<number, string>): boolean {
  for (const [p, next] of Object.entries(end)) {
    if (BigInt(next) > BigInt(progress[Number(p)] ?? '-1') + 1n) return false;
  }
  return true;
}

/**
 * Whether an id not (yet) in the store may belong to an event acknowledged a moment ago. Ids the service
 * makes are UUIDv7, whose first 48 bits are the receive time in ms: one from more than RECENT_ID_WINDOW_MS
 * ago (or from the far future) was not just written. An idempotency key's id is name-based and a producer
 * may choose its own: their time is unknown, so they are always waited for; the wait is bounded and ends at
 * once when the store is caught up, so a 404 for such an id costs at most the projection's lag.
 */
export function mayBeInFlight(id: string, nowMs = Date.now(), windowMs = RECENT_ID_WINDOW_MS): boolean {
  if (id[14] !== '7') return true;
  const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return Math.abs(nowMs - ms) <= windowMs;
}

export interface ProjectionPositions {
  /** The log's end now: per partition, the offset the next record gets (undefined: the log cannot tell). */
  logEnd(): Promise<Record<number, string> | undefined>;
  /** What the store has written: per partition, the last stored offset. */
  progress(): Promise<Record<number, string>>;
}

const POLL_MS = 20;

/**
 * Waits until the store has projected what the log held when called, `timeoutMs` passed, or `signal`
 * aborted. True when the store caught up (or the log cannot tell its end: nothing to wait for).
 */
export async function awaitProjection(positions: ProjectionPositions, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const end = await positions.logEnd();
  if (end === undefined) return true;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (projectedUpTo(await positions.progress(), end)) return true;
    if (Date.now() >= deadline || signal?.aborted) return false;
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
}
