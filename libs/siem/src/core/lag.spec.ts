import { crossedIntoWarning, lagState } from './lag';

const H = 3_600_000;
const base = { lagEvents: 10, nowMs: 1_000 * H, hotWindowMs: 168 * H, warnFraction: 0.5 };

describe(lagState.name, () => {
  it('should not warn while the oldest waiting event is younger than the fraction of the window', () => {
    expect(lagState({ ...base, oldestWaitingAtMs: base.nowMs - 83 * H })).toEqual({ lag_seconds: 83 * 3600, warning: null });
  });

  it('should warn from the fraction on, with the age, the count and the time left', () => {
    const s = lagState({ ...base, oldestWaitingAtMs: base.nowMs - 84 * H });
    expect(s.lag_seconds).toBe(84 * 3600);
    expect(s.warning).toBe(
      'the oldest undelivered event is 84.0 h old (10 events waiting): the log keeps events 168 h, so in about 84.0 h they start to be lost',
    );
  });

  it('should read nothing waiting as no lag, whatever the last timestamp', () => {
    expect(lagState({ ...base, lagEvents: 0, oldestWaitingAtMs: base.nowMs - 200 * H })).toEqual({ lag_seconds: 0, warning: null });
    expect(lagState({ ...base, oldestWaitingAtMs: null })).toEqual({ lag_seconds: 0, warning: null });
  });

  it('should follow the fraction', () => {
    expect(lagState({ ...base, warnFraction: 0.25, oldestWaitingAtMs: base.nowMs - 42 * H }).warning).not.toBeNull();
    expect(lagState({ ...base, warnFraction: 0.25, oldestWaitingAtMs: base.nowMs - 41 * H }).warning).toBeNull();
  });
});

describe(crossedIntoWarning.name, () => {
  it('should be true only on the way in', () => {
    expect(crossedIntoWarning(null, 'w')).toBe(true);
    expect(crossedIntoWarning('w', 'w2')).toBe(false);
    expect(crossedIntoWarning('w', null)).toBe(false);
    expect(crossedIntoWarning(null, null)).toBe(false);
  });
});
