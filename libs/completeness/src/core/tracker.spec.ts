import { checkSilence, Finding, missingCount, Observation, observe, SourceState } from './tracker';

const T0 = Date.UTC(2026, 0, 1) * 1000;
let offset = 0;
const ev = (sequence: number, id = `id-${sequence}`, atMs = sequence * 1000): Observation => ({
  id,
  sequence,
  receivedAtUs: T0 + atMs * 1000,
  partition: 0,
  offset: String(offset++),
});

/** Given these events, when the next arrives, then these findings. */
function given(...events: Observation[]): {
  state: SourceState | undefined;
  when(e: Observation): { findings: Finding[]; state: SourceState };
} {
  let state: SourceState | undefined;
  for (const e of events) state = observe(state, e).state;
  return { state, when: (e) => observe(state, e) };
}

describe('completeness tracker', () => {
  beforeEach(() => (offset = 0));

  it('should report nothing for a contiguous sequence', () => {
    const step = given(ev(1), ev(2)).when(ev(3));
    expect(step.findings).toEqual([]);
    expect(step.state).toMatchObject({ first: 1, last: 3, gaps: [], events: 3 });
  });

  it('should open a gap for the missing range when a sequence skips ahead', () => {
    const step = given(ev(1), ev(2)).when(ev(5));
    expect(step.findings).toEqual([{ kind: 'gap', from: 3, to: 4 }]);
    expect(step.state.gaps).toEqual([[3, 4]]);
    expect(missingCount(step.state)).toBe(2);
  });

  it('should close a gap when its events arrive late, piece by piece', () => {
    const g = given(ev(1), ev(4));
    const partial = g.when(ev(2));
    expect(partial.findings).toEqual([{ kind: 'late', sequence: 2 }]);
    expect(partial.state.gaps).toEqual([[3, 3]]);
    const closed = observe(partial.state, ev(3));
    expect(closed.findings).toEqual([
      { kind: 'late', sequence: 3 },
      { kind: 'gap_closed', from: 3, to: 3 },
    ]);
    expect(closed.state.gaps).toEqual([]);
  });

  it('should report a sequence seen again with another id as a duplicate, naming both ids', () => {
    const step = given(ev(1), ev(2), ev(3)).when(ev(2, 'other'));
    expect(step.findings).toEqual([{ kind: 'duplicate', sequence: 2, id: 'other', previousId: 'id-2' }]);
    expect(step.state.duplicates).toBe(1);
    expect(step.state.recent['2']).toBe('id-2');
  });

  it('should take the same id at the same sequence (a producer retry at a new offset) as no finding', () => {
    const step = given(ev(1), ev(2)).when(ev(2));
    expect(step.findings).toEqual([]);
    expect(step.state.events).toBe(2);
  });

  it('should ignore a redelivered log position entirely', () => {
    const a = ev(1);
    const b = ev(3);
    let state = observe(undefined, a).state;
    state = observe(state, b).state;
    const again = observe(state, b);
    expect(again.findings).toEqual([]);
    expect(again.state).toBe(state);
  });

  it('should extend the range backwards when an older sequence arrives after the first', () => {
    const step = given(ev(5)).when(ev(2));
    expect(step.findings).toEqual([{ kind: 'gap', from: 3, to: 4 }]);
    expect(step.state).toMatchObject({ first: 2, last: 5 });
  });

  it('should call a source silent after factor x its usual interval, not before the minimum, and once', () => {
    const g = given(ev(1), ev(2), ev(3), ev(4));
    const state = g.state as SourceState;
    expect(state.meanIntervalMs).toBe(1000);
    const policy = { factor: 10, minimumMs: 60_000 };
    const lastMs = 4000;
    expect(checkSilence(state, T0 + (lastMs + 30_000) * 1000, policy).findings).toEqual([]);
    const silent = checkSilence(state, T0 + (lastMs + 61_000) * 1000, policy);
    expect(silent.findings).toEqual([{ kind: 'silent', sinceUs: state.lastSeenUs, silentForMs: 61_000, meanIntervalMs: 1000 }]);
    expect(checkSilence(silent.state, T0 + (lastMs + 120_000) * 1000, policy).findings).toEqual([]);
    const resumed = observe(silent.state, ev(5, 'id-5', lastMs + 90_000));
    expect(resumed.findings).toEqual([{ kind: 'resumed', silentForMs: 90_000 }]);
    expect(resumed.state.silentSinceUs).toBeNull();
  });

  it('should not judge silence before it has seen enough intervals', () => {
    const state = given(ev(1), ev(2)).state as SourceState;
    expect(checkSilence(state, T0 + 10_000_000_000, { factor: 10, minimumMs: 1000 }).findings).toEqual([]);
  });
});
