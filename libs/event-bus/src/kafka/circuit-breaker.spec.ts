import { CircuitBreaker } from './circuit-breaker';

describe(CircuitBreaker.name, () => {
  let clock: number;
  let sut: CircuitBreaker;

  beforeEach(() => {
    clock = 1_000_000;
    sut = new CircuitBreaker(1000, 4000, () => clock);
  });

  it('should start closed and let calls through', () => {
    expect(sut.state).toBe('closed');
    expect(sut.remainingMs()).toBe(0);
  });

  it('should open after a failure and half-open once the cool-down has passed', () => {
    sut.onFailure();
    expect(sut.state).toBe('open');
    expect(sut.remainingMs()).toBe(1000);
    clock += 999;
    expect(sut.state).toBe('open');
    clock += 1;
    expect(sut.state).toBe('half-open');
    expect(sut.remainingMs()).toBe(0);
  });

  it('should double the cool-down with each consecutive failure up to the cap', () => {
    const cooldowns: number[] = [];
    for (let i = 0; i < 5; i++) {
      sut.onFailure();
      cooldowns.push(sut.remainingMs());
    }
    expect(cooldowns).toEqual([1000, 2000, 4000, 4000, 4000]);
  });

  it('should close on the first success', () => {
    sut.onFailure();
    sut.onFailure();
    clock += 10_000;
    sut.onSuccess();
    expect(sut.state).toBe('closed');
    expect(sut.consecutiveFailures).toBe(0);
    sut.onFailure();
    expect(sut.remainingMs()).toBe(1000);
  });
});
