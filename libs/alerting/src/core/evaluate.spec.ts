import { AuditEvent, formatMicros } from '@app/contracts';
import { deterministicUuid, emptyState, evaluate, EvaluatedRule, LATENESS_US, RuleState } from './evaluate';

const T0 = Date.UTC(2026, 0, 1) * 1000;
const S = 1_000_000;

function rule(over: Partial<EvaluatedRule> = {}): EvaluatedRule {
  return {
    id: 'r1',
    tenantId: 'default',
    eventTypes: ['login_failed', 'unauthorized_access'],
    categories: [],
    severities: [],
    metadata: [],
    groupBy: [],
    threshold: 5,
    timeWindow: 300,
    cooldown: 0,
    createdAtUs: 0,
    silences: [],
    ...over,
  };
}

let n = 0;
function ev(atSeconds: number, over: Partial<AuditEvent> = {}): AuditEvent {
  n++;
  return {
    schema_version: 1,
    id: `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    tenant_id: 'default',
    event_type: 'login_failed',
    category: 'security_events',
    severity: 'warning',
    description: '',
    metadata: {},
    timestamp: formatMicros(T0 + atSeconds * S),
    received_at: formatMicros(T0 + atSeconds * S),
    ip_address: '10.0.0.1',
    user_agent: '',
    session_id: '',
    source: 'app',
    idempotency_key: '',
    ...over,
  };
}

function run(r: EvaluatedRule, batches: AuditEvent[][], state: RuleState = emptyState()) {
  const firings = [];
  const resolved = [];
  for (const b of batches) {
    const res = evaluate(r, state, b);
    state = res.state;
    firings.push(...res.firings);
    resolved.push(...res.resolved);
  }
  return { state, firings, resolved };
}

describe(evaluate.name, () => {
  it('given threshold-1 matching events in the window, when evaluated, then nothing fires', () => {
    const { firings } = run(rule(), [[0, 10, 20, 30].map((s) => ev(s))]);
    expect(firings).toHaveLength(0);
  });

  it('given exactly threshold matching events in the window, when evaluated, then it fires once with their ids', () => {
    const events = [0, 10, 20, 30, 40].map((s) => ev(s));
    const { firings } = run(rule(), [events]);
    expect(firings).toHaveLength(1);
    expect(firings[0].eventIds).toEqual(events.map((e) => e.id));
    expect(firings[0].windowStartUs).toBe(T0);
    expect(firings[0].windowEndUs).toBe(T0 + 40 * S);
    expect(firings[0].silenced).toBe(false);
  });

  it('given the threshold spread over exactly the window (both ends included), when evaluated, then it fires', () => {
    const { firings } = run(rule(), [[0, 100, 200, 250, 300].map((s) => ev(s))]);
    expect(firings).toHaveLength(1);
  });

  it('given the threshold spread over the window plus one microsecond, when evaluated, then nothing fires', () => {
    const events = [0, 100, 200, 250].map((s) => ev(s));
    events.push(ev(0, { timestamp: formatMicros(T0 + 300 * S + 1) }));
    const { firings } = run(rule(), [events]);
    expect(firings).toHaveLength(0);
  });

  it('given a burst across what a tumbling bucket boundary would be, when evaluated, then the sliding window fires', () => {
    const { firings } = run(rule({ timeWindow: 60 }), [[50, 55, 58, 61, 65].map((s) => ev(s))]);
    expect(firings).toHaveLength(1);
  });

  it('given events that do not match type, tenant or source, when evaluated, then they are not counted', () => {
    const others = [
      ev(1, { event_type: 'login_success' }),
      ev(2, { tenant_id: 'other' }),
      ev(3, { source: 'homepot-audit', event_type: 'alert_triggered' }),
    ];
    const { firings } = run(rule({ eventTypes: [] }), [[...[0, 1, 2, 3].map((s) => ev(s)), ...others.slice(1)]]);
    expect(firings).toHaveLength(0);
    const typed = run(rule(), [[...[0, 1, 2, 3].map((s) => ev(s)), others[0]]]);
    expect(typed.firings).toHaveLength(0);
  });

  it('given a firing group, when further matching events arrive, then it does not notify again (no cooldown)', () => {
    const { firings } = run(rule(), [[0, 1, 2, 3, 4].map((s) => ev(s)), [5, 6, 7, 8, 9, 10].map((s) => ev(s))]);
    expect(firings).toHaveLength(1);
  });

  it('given a cooldown, when the group keeps firing past it, then it notifies again only after the cooldown', () => {
    const r = rule({ cooldown: 60 });
    const before = run(r, [[0, 1, 2, 3, 4].map((s) => ev(s)), [30, 50, 63].map((s) => ev(s))]);
    expect(before.firings).toHaveLength(1);
    const after = run(r, [[64].map((s) => ev(s))], before.state);
    expect(after.firings).toHaveLength(1);
    expect(after.firings[0].windowEndUs).toBe(T0 + 64 * S);
  });

  it('given a firing group, when it resolves and fires again, then it notifies again', () => {
    const r = rule({ timeWindow: 60 });
    const first = run(r, [[0, 1, 2, 3, 4].map((s) => ev(s))]);
    // One event far later moves the watermark past the window: fewer than the threshold remain in it.
    const quiet = run(r, [[200].map((s) => ev(s))], first.state);
    expect(quiet.resolved).toEqual(['[]']);
    const again = run(r, [[201, 202, 203, 204].map((s) => ev(s))], quiet.state);
    expect(again.firings).toHaveLength(1);
    expect(again.firings[0].id).not.toBe(first.firings[0].id);
  });

  it('given group_by ip_address, when each address stays under the threshold, then nothing fires; one over fires for it', () => {
    const r = rule({ groupBy: ['ip_address'] });
    const spread = [0, 1, 2, 3, 4, 5, 6, 7].map((s) => ev(s, { ip_address: `10.0.0.${s % 2}` }));
    expect(run(r, [spread]).firings).toHaveLength(0);
    const { firings } = run(r, [[...spread, ev(8, { ip_address: '10.0.0.0' })]]);
    expect(firings).toHaveLength(1);
    expect(firings[0].group).toEqual({ ip_address: '10.0.0.0' });
  });

  it('given group_by metadata.user_id, when one user crosses the threshold, then the firing names the user', () => {
    const r = rule({ groupBy: ['metadata.user_id'], threshold: 2 });
    const { firings } = run(r, [
      [ev(0, { metadata: { user_id: 'u1' } }), ev(1, { metadata: { user_id: 'u2' } }), ev(2, { metadata: { user_id: 'u1' } })],
    ]);
    expect(firings.map((f) => f.group)).toEqual([{ 'metadata.user_id': 'u1' }]);
  });

  it('given a late event within the lateness, when evaluated, then it still completes a window', () => {
    const r = rule({ timeWindow: 60, threshold: 3 });
    const { firings } = run(r, [[ev(100), ev(101)], [ev(200)], [ev(102)]]);
    // 100, 101, 102 lie within 60 s; 102 arrives after the watermark moved to 200 (98 s late: beyond lateness).
    expect(firings).toHaveLength(0);
    const within = run(r, [[ev(100), ev(101)], [ev(150)], [ev(102)]]);
    expect(within.firings).toHaveLength(1);
    expect(within.firings[0].eventIds).toHaveLength(3);
  });

  it('given an event older than the watermark minus the lateness, when evaluated, then it is dropped and counted', () => {
    const r = rule({ threshold: 2 });
    const res = evaluate(r, run(r, [[ev(1000)]]).state, [ev(1000 - LATENESS_US / S - 1)]);
    expect(res.lateDropped).toBe(1);
    expect(res.firings).toHaveLength(0);
  });

  it('given a batch redelivered after a crash, when evaluated again, then it neither double-counts nor fires twice', () => {
    const r = rule();
    const batch = [0, 1, 2].map((s) => ev(s));
    const once = run(r, [batch]);
    const twice = run(r, [batch], once.state);
    expect(twice.firings).toHaveLength(0);
    expect(twice.state.groups['[]'].events).toHaveLength(3);
  });

  it('given a long burst, when evaluated, then a group holds only its newest threshold events, and a replay of the evicted does not count', () => {
    const r = rule({ threshold: 3 });
    const burst = [0, 1, 2, 3, 4, 5].map((s) => ev(s));
    const once = run(r, [burst]);
    expect(once.state.groups['[]'].events.map(([, id]) => id)).toEqual(burst.slice(3).map((e) => e.id));
    const replay = run(r, [burst], once.state);
    expect(replay.firings).toHaveLength(0);
    expect(replay.state.groups['[]'].events).toEqual(once.state.groups['[]'].events);
  });

  it('given the same events from a state saved before the firing, when replayed, then the firing id is the same', () => {
    const r = rule();
    const events = [0, 1, 2, 3, 4].map((s) => ev(s));
    const a = run(r, [events]);
    const b = run(r, [events.slice(0, 2), events.slice(2)]);
    expect(b.firings.map((f) => f.id)).toEqual(a.firings.map((f) => f.id));
  });

  it('given a silence covering the window end, when it fires, then the firing is marked silenced', () => {
    const r = rule({ silences: [{ startUs: T0, endUs: T0 + 3600 * S }] });
    const { firings } = run(r, [[0, 1, 2, 3, 4].map((s) => ev(s))]);
    expect(firings[0].silenced).toBe(true);
  });

  it('given events received before the rule was created, when evaluated, then they are not counted', () => {
    const r = rule({ createdAtUs: T0 + 10 * S });
    const { firings } = run(r, [[0, 1, 2, 3, 4].map((s) => ev(s))]);
    expect(firings).toHaveLength(0);
  });
});

describe(deterministicUuid.name, () => {
  it('given the same parts, when hashed twice, then the ids are equal and shaped as a version 8 UUID', () => {
    const a = deterministicUuid('r', 'g', '1');
    expect(a).toBe(deterministicUuid('r', 'g', '1'));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicUuid('r', 'g', '2')).not.toBe(a);
  });
});
