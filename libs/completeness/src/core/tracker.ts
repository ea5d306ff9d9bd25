/**
 * Completeness of one source's sequence, as a pure fold over what the log delivers: `observe` takes the state
 * of a (tenant, source) and one event, and returns the next state with what it revealed (a gap opened, a late
 * event that closed part of one, a duplicate); `checkSilence` compares the time since the last event with the
 * source's usual interval. The capability keeps the state in Postgres and turns findings into audit events.
 */

/** How many recent sequence -> id pairs are kept to tell a redelivery (same id) from a duplicate (another id). */
export const RECENT_WINDOW = 1024;
/** Open gaps kept per source; beyond it the oldest are dropped (and counted), so a state stays bounded. */
export const MAX_OPEN_GAPS = 1000;
/** Weight of the newest interval in the running mean (an exponentially weighted moving average). */
const EWMA_WEIGHT = 0.2;
/** Intervals seen before a source's usual interval is trusted for silence. */
export const MIN_INTERVALS_FOR_SILENCE = 3;

export interface SourceState {
  /** The lowest and highest sequence seen: the range the tracker vouches for. */
  first: number;
  last: number;
  /** Open gaps, sorted, as inclusive [from, to]. */
  gaps: Array<[number, number]>;
  /** The newest RECENT_WINDOW sequences and the ids that carried them. */
  recent: Record<string, string>;
  /** The log position last processed, per partition: a redelivered batch changes nothing. */
  offsets: Record<string, string>;
  events: number;
  duplicates: number;
  gapsDetected: number;
  gapsDropped: number;
  /** Server receive time of the newest event, in microseconds. */
  lastSeenUs: number;
  /** The running mean of the time between events, in milliseconds; null before the second event. */
  meanIntervalMs: number | null;
  intervals: number;
  /** Set while the source is silent (microseconds), cleared by its next event. */
  silentSinceUs: number | null;
}

export interface Observation {
  id: string;
  sequence: number;
  receivedAtUs: number;
  partition: number;
  offset: string;
}

export type Finding =
  | { kind: 'gap'; from: number; to: number }
  | { kind: 'gap_closed'; from: number; to: number }
  | { kind: 'late'; sequence: number }
  | { kind: 'duplicate'; sequence: number; id: string; previousId: string | null }
  | { kind: 'resumed'; silentForMs: number }
  | { kind: 'silent'; sinceUs: number; silentForMs: number; meanIntervalMs: number };

export interface Step {
  state: SourceState;
  findings: Finding[];
}

function fresh(o: Observation): SourceState {
  return {
    first: o.sequence,
    last: o.sequence,
    gaps: [],
    recent: { [o.sequence]: o.id },
    offsets: { [o.partition]: o.offset },
    events: 1,
    duplicates: 0,
    gapsDetected: 0,
    gapsDropped: 0,
    lastSeenUs: o.receivedAtUs,
    meanIntervalMs: null,
    intervals: 0,
    silentSinceUs: null,
  };
}

function alreadyProcessed(state: SourceState, o: Observation): boolean {
  const seen = state.offsets[o.partition];
  return seen !== undefined && BigInt(o.offset) <= BigInt(seen);
}

function remember(recent: Record<string, string>, sequence: number, id: string, last: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(recent)) if (Number(k) > last - RECENT_WINDOW) out[k] = v;
  if (sequence > last - RECENT_WINDOW) out[sequence] = id;
  return out;
}

function addGap(gaps: Array<[number, number]>, gap: [number, number]): { gaps: Array<[number, number]>; dropped: number } {
  const all = [...gaps, gap].sort((a, b) => a[0] - b[0]);
  const dropped = Math.max(0, all.length - MAX_OPEN_GAPS);
  return { gaps: all.slice(dropped), dropped };
}

/** The next state after one event of the source, and what it revealed. Pure. */
export function observe(state: SourceState | undefined, o: Observation): Step {
  if (state === undefined) return { state: fresh(o), findings: [] };
  if (alreadyProcessed(state, o)) return { state, findings: [] };
  const findings: Finding[] = [];
  const s: SourceState = { ...state, offsets: { ...state.offsets, [o.partition]: o.offset }, events: state.events + 1 };

  const interval = (o.receivedAtUs - state.lastSeenUs) / 1000;
  if (interval >= 0) {
    s.meanIntervalMs = state.meanIntervalMs === null ? interval : state.meanIntervalMs + EWMA_WEIGHT * (interval - state.meanIntervalMs);
    s.intervals = state.intervals + 1;
    s.lastSeenUs = o.receivedAtUs;
  }
  if (state.silentSinceUs !== null) {
    findings.push({ kind: 'resumed', silentForMs: Math.max(0, (o.receivedAtUs - state.silentSinceUs) / 1000) });
    s.silentSinceUs = null;
  }

  const q = o.sequence;
  const open = state.gaps.findIndex(([from, to]) => q >= from && q <= to);
  if (q > state.last) {
    if (q > state.last + 1) {
      const gap: [number, number] = [state.last + 1, q - 1];
      const added = addGap(state.gaps, gap);
      s.gaps = added.gaps;
      s.gapsDropped = state.gapsDropped + added.dropped;
      s.gapsDetected = state.gapsDetected + 1;
      findings.push({ kind: 'gap', from: gap[0], to: gap[1] });
    }
    s.last = q;
  } else if (q < state.first) {
    // Earlier than anything seen: the source's history reaches further back than first thought.
    if (q < state.first - 1) {
      const gap: [number, number] = [q + 1, state.first - 1];
      const added = addGap(state.gaps, gap);
      s.gaps = added.gaps;
      s.gapsDropped = state.gapsDropped + added.dropped;
      s.gapsDetected = state.gapsDetected + 1;
      findings.push({ kind: 'gap', from: gap[0], to: gap[1] });
    }
    s.first = q;
  } else if (open >= 0) {
    const [from, to] = state.gaps[open];
    const pieces: Array<[number, number]> = [];
    if (from <= q - 1) pieces.push([from, q - 1]);
    if (q + 1 <= to) pieces.push([q + 1, to]);
    s.gaps = [...state.gaps.slice(0, open), ...pieces, ...state.gaps.slice(open + 1)];
    findings.push({ kind: 'late', sequence: q });
    if (pieces.length === 0) findings.push({ kind: 'gap_closed', from, to });
  } else {
    const previous = state.recent[q];
    if (previous === o.id) return { state: { ...s, events: state.events }, findings };
    s.duplicates = state.duplicates + 1;
    findings.push({ kind: 'duplicate', sequence: q, id: o.id, previousId: previous ?? null });
    s.recent = state.recent;
    return { state: s, findings };
  }
  s.recent = remember(state.recent, q, o.id, s.last);
  return { state: s, findings };
}

export interface SilencePolicy {
  /** Silent after this many usual intervals without an event. */
  factor: number;
  /** ... but never sooner than this (a source sending every second is not silent after ten). */
  minimumMs: number;
}

/** Whether the source went silent at `nowUs`; reported once per silence (the next event reports `resumed`). */
export function checkSilence(state: SourceState, nowUs: number, policy: SilencePolicy): Step {
  if (state.silentSinceUs !== null || state.meanIntervalMs === null || state.intervals < MIN_INTERVALS_FOR_SILENCE) {
    return { state, findings: [] };
  }
  const silentForMs = (nowUs - state.lastSeenUs) / 1000;
  const limitMs = Math.max(policy.factor * state.meanIntervalMs, policy.minimumMs);
  if (silentForMs <= limitMs) return { state, findings: [] };
  return {
    state: { ...state, silentSinceUs: state.lastSeenUs },
    findings: [{ kind: 'silent', sinceUs: state.lastSeenUs, silentForMs, meanIntervalMs: state.meanIntervalMs }],
  };
}

/** How many sequences the open gaps miss in all. */
export function missingCount(state: SourceState): number {
  return state.gaps.reduce((n, [from, to]) => n + (to - from + 1), 0);
}
