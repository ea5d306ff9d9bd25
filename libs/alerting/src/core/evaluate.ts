import { createHash } from 'node:crypto';
import { AuditEvent, canonicalCategory, parseTimestampMicros, Severity } from '@app/contracts';

/** What the evaluation needs of a rule (the stored rule has more: name, notification, ...). */
export interface EvaluatedRule {
  id: string;
  tenantId: string;
  /** Event types counted (any of them); empty: every type. */
  eventTypes: string[];
  categories: string[];
  severities: Severity[];
  /** metadata.<key> = value pairs, every pair must hold (the search filter's grammar and meaning). */
  metadata: Array<[string, string]>;
  /** Keys the threshold is counted per: ip_address, session_id, user_agent, source, event_type, metadata.<key>. */
  groupBy: string[];
  threshold: number;
  /** Seconds of event time. */
  timeWindow: number;
  /** Seconds after a notification during which a still-firing group is not notified again; 0: never again while firing. */
  cooldown: number;
  /** Events received before the rule existed are not counted (µs since the epoch). */
  createdAtUs: number;
  silences: Array<{ startUs: number; endUs: number }>;
}

/** One group's memory: the matching events still inside the window (plus lateness), and whether it fires. */
export interface GroupState {
  /** The newest `threshold` matching events still inside window + lateness, sorted by event time: [µs, event id]. */
  events: Array<[number, string]>;
  firing: boolean;
  /** Event time of the last notified (or silenced) firing's window end, µs. */
  lastNotifiedUs: number | null;
}

export interface RuleState {
  /** The largest event time seen by this rule, µs: the clock lateness and resolution are measured on. */
  watermarkUs: number;
  groups: Record<string, GroupState>;
}

export interface Firing {
  /** Deterministic: the same rule, group and window give the same id, so a replayed batch cannot fire twice. */
  id: string;
  ruleId: string;
  tenantId: string;
  groupKey: string;
  group: Record<string, string>;
  windowStartUs: number;
  windowEndUs: number;
  /** The ids of the `threshold` events that make the window, oldest first: the evidence. */
  eventIds: string[];
  /** Inside a silence: recorded and audited, not notified. */
  silenced: boolean;
}

export interface EvaluationResult {
  state: RuleState;
  firings: Firing[];
  /** Group keys that went from firing back to quiet. */
  resolved: string[];
  /** Matching events older than the watermark minus the lateness: not counted. */
  lateDropped: number;
}

/**
 * Events later than this behind the newest event seen are not counted: the window cannot stay open forever,
 * and a producer whose clock is minutes off should not fire rules on history. One minute covers batching,
 * retries and normal clock skew (Datadog's evaluation delay and Elastic's extra look-back serve the same need).
 */
export const LATENESS_US = 60_000_000;

/** The service's own alert events are never counted, so an alert rule on alert_* cannot feed itself. */
export function isOwnAlertEvent(e: Pick<AuditEvent, 'source' | 'event_type'>): boolean {
  return e.source === 'homepot-audit' && e.event_type.startsWith('alert_');
}

export const GROUP_BY_FIELDS = ['ip_address', 'session_id', 'user_agent', 'source', 'event_type', 'category', 'severity'] as const;

function groupValue(e: AuditEvent, key: string): string {
  if (key.startsWith('metadata.')) {
    const v = e.metadata[key.slice('metadata.'.length)];
    return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  return String((e as unknown as Record<string, unknown>)[key] ?? '');
}

export function matches(rule: EvaluatedRule, e: AuditEvent): boolean {
  if (e.tenant_id !== rule.tenantId || isOwnAlertEvent(e)) return false;
  if (rule.eventTypes.length > 0 && !rule.eventTypes.includes(e.event_type)) return false;
  if (rule.categories.length > 0 && !rule.categories.includes(canonicalCategory(e.category))) return false;
  if (rule.severities.length > 0 && !rule.severities.includes(e.severity)) return false;
  for (const [k, v] of rule.metadata) {
    const got = e.metadata[k];
    if (got === undefined || got === null || String(got) !== v) return false;
  }
  return true;
}

/** A UUID (version 8, RFC 9562's custom layout) from a SHA-256 of the parts: stable across processes and restarts. */
export function deterministicUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function emptyState(): RuleState {
  return { watermarkUs: 0, groups: {} };
}

/**
 * The rule engine, a pure function: the rule's state and a batch of events (in log order) give the next state
 * and the firings to record. Semantics (docs/api.md, "Alerts"):
 *
 * - A group fires when at least `threshold` matching events have event times within `timeWindow` seconds of
 *   each other, both ends included (newest - oldest <= window): any sliding window, not fixed buckets, so a
 *   burst across a bucket boundary still fires.
 * - It notifies on the transition to firing; while it keeps firing, again only once `cooldown` seconds of event
 *   time passed since the last notification (0: not again). It resolves when fewer than `threshold` matching
 *   events lie in the window ending at the watermark; the next qualifying window notifies again.
 * - Events up to LATENESS_US behind the watermark still count; older ones are dropped and counted.
 * - An event already held (a redelivered batch) is not counted twice, so replaying after a crash is a no-op.
 */
export function evaluate(rule: EvaluatedRule, state: RuleState, events: AuditEvent[]): EvaluationResult {
  const windowUs = rule.timeWindow * 1_000_000;
  const next: RuleState = { watermarkUs: state.watermarkUs, groups: { ...state.groups } };
  const firings: Firing[] = [];
  const resolved: string[] = [];
  let lateDropped = 0;
  const touched = new Set<string>();

  for (const e of events) {
    if (!matches(rule, e)) continue;
    const ts = parseTimestampMicros(e.timestamp);
    if (ts === undefined) continue;
    const received = parseTimestampMicros(e.received_at);
    if (received !== undefined && received < rule.createdAtUs) continue;
    if (ts < next.watermarkUs - LATENESS_US) {
      lateDropped++;
      continue;
    }
    const values = rule.groupBy.map((k) => groupValue(e, k));
    const groupKey = JSON.stringify(values);
    const previous = next.groups[groupKey] ?? { events: [], firing: false, lastNotifiedUs: null };
    if (previous.events.some(([, id]) => id === e.id)) continue;
    // A group holds its newest `threshold` events: enough for every window that can still end at or after them,
    // and bounded however long the window. An event older than all of a full list is one a replay may have
    // evicted, so it is not counted again.
    if (previous.events.length >= rule.threshold && ts <= previous.events[0][0]) continue;
    const inserted = insertSorted(previous.events, [ts, e.id]);
    const group: GroupState = {
      ...previous,
      events: inserted.length > rule.threshold ? inserted.slice(inserted.length - rule.threshold) : inserted,
    };
    next.groups[groupKey] = group;
    next.watermarkUs = Math.max(next.watermarkUs, ts);
    touched.add(groupKey);

    // The windows this event completes: `threshold` consecutive events (by time) around it spanning <= window.
    const i = group.events.findIndex(([, id]) => id === e.id);
    const n = rule.threshold;
    let window: Array<[number, string]> | undefined;
    for (let start = Math.max(0, i - n + 1); start <= i && start + n - 1 < group.events.length; start++) {
      const slice = group.events.slice(start, start + n);
      if (slice[n - 1][0] - slice[0][0] <= windowUs) {
        window = slice;
        break;
      }
    }
    if (!window) continue;
    const windowEnd = window[window.length - 1][0];
    const cooled = rule.cooldown > 0 && group.lastNotifiedUs !== null && windowEnd - group.lastNotifiedUs >= rule.cooldown * 1_000_000;
    if (group.firing && !cooled) continue;
    group.firing = true;
    group.lastNotifiedUs = windowEnd;
    firings.push({
      id: deterministicUuid(rule.id, groupKey, String(window[0][0]), String(windowEnd)),
      ruleId: rule.id,
      tenantId: rule.tenantId,
      groupKey,
      group: Object.fromEntries(rule.groupBy.map((k, j) => [k, values[j]])),
      windowStartUs: window[0][0],
      windowEndUs: windowEnd,
      eventIds: window.map(([, id]) => id),
      silenced: rule.silences.some((s) => windowEnd >= s.startUs && windowEnd < s.endUs),
    });
  }

  // Forget what no window (plus lateness) can reach any more; resolve groups whose window ending now is short.
  const horizon = next.watermarkUs - windowUs - LATENESS_US;
  for (const [key, g] of Object.entries(next.groups)) {
    const kept = g.events.filter(([ts]) => ts >= horizon);
    const inWindow = kept.filter(([ts]) => ts >= next.watermarkUs - windowUs).length;
    const firing = g.firing && inWindow >= rule.threshold;
    if (g.firing && !firing) resolved.push(key);
    if (kept.length === 0 && !firing && !touched.has(key)) {
      delete next.groups[key];
      continue;
    }
    if (kept.length !== g.events.length || firing !== g.firing) next.groups[key] = { ...g, events: kept, firing };
  }
  return { state: next, firings, resolved, lateDropped };
}

function insertSorted(list: Array<[number, string]>, item: [number, string]): Array<[number, string]> {
  const out = list.slice();
  let i = out.length;
  while (i > 0 && out[i - 1][0] > item[0]) i--;
  out.splice(i, 0, item);
  return out;
}
