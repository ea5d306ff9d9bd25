/** What the lag rule reads of one integration. */
export interface LagInput {
  /** Events on the log its group has not delivered. */
  lagEvents: number;
  /** When the oldest event still waiting was received (epoch ms), or null when nothing waits. */
  oldestWaitingAtMs: number | null;
  nowMs: number;
  /** How long the log keeps events (AUDIT_LOG_HOT_DAYS): past it, undelivered events are gone. */
  hotWindowMs: number;
  /** The share of the hot window at which to warn (0.5: half of it used up). */
  warnFraction: number;
}

export interface LagState {
  lag_seconds: number;
  /** Set while the oldest waiting event is older than warnFraction of the hot window. */
  warning: string | null;
}

/**
 * The lag warning: events wait on the log only as long as its hot window, so an integration whose oldest
 * undelivered event has used `warnFraction` of that window is warned about well before anything is lost.
 * The age decides (the window is a time); the event count goes in the text for the operator.
 */
export function lagState(i: LagInput): LagState {
  const ageMs = i.oldestWaitingAtMs === null || i.lagEvents === 0 ? 0 : Math.max(0, i.nowMs - i.oldestWaitingAtMs);
  const lag_seconds = Math.floor(ageMs / 1000);
  if (ageMs < i.warnFraction * i.hotWindowMs) return { lag_seconds, warning: null };
  const leftHours = Math.max(0, (i.hotWindowMs - ageMs) / 3_600_000);
  return {
    lag_seconds,
    warning:
      `the oldest undelivered event is ${(ageMs / 3_600_000).toFixed(1)} h old (${i.lagEvents} events waiting): ` +
      `the log keeps events ${(i.hotWindowMs / 3_600_000).toFixed(0)} h, so in about ${leftHours.toFixed(1)} h they start to be lost`,
  };
}

/** Whether a state change crosses into the warning (an audit event is written once per crossing). */
export const crossedIntoWarning = (before: string | null, after: string | null): boolean => before === null && after !== null;
