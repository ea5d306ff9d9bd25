import { QueryGate } from './query-gate';
import { mayBeInFlight, projectedUpTo } from '@app/query';
import { StreamSlots } from './stream-limits';

const deferred = <T>(): { promise: Promise<T>; resolve: (v: T) => void } => {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};

describe(QueryGate.name, () => {
  it('should run N at once, queue M in order, and refuse the next with 503 and Retry-After', async () => {
    const outcomes: string[] = [];
    const sut = new QueryGate({ concurrency: 1, queue: 1 }, (o) => outcomes.push(o));
    const first = deferred<string>();
    const a = sut.run(new AbortController().signal, () => first.promise);
    const b = sut.run(new AbortController().signal, async () => 'b');
    await expect(sut.run(new AbortController().signal, async () => 'c')).rejects.toMatchObject({
      status: 503,
      headers: { 'retry-after': '1' },
    });
    expect(sut.stats).toEqual({ running: 1, waiting: 1 });
    first.resolve('a');
    await expect(a).resolves.toBe('a');
    await expect(b).resolves.toBe('b');
    expect(sut.stats).toEqual({ running: 0, waiting: 0 });
    expect(outcomes).toEqual(['run', 'queued', 'refused', 'run']);
  });

  it('should drop a waiting query whose signal aborts, and never start its work', async () => {
    const sut = new QueryGate({ concurrency: 1, queue: 5 });
    const first = deferred<void>();
    const running = sut.run(new AbortController().signal, () => first.promise);
    const ac = new AbortController();
    const work = jest.fn(async () => undefined);
    const waiting = sut.run(ac.signal, work);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ status: 499 });
    expect(sut.stats.waiting).toBe(0);
    first.resolve();
    await running;
    expect(work).not.toHaveBeenCalled();
    expect(sut.stats).toEqual({ running: 0, waiting: 0 });
  });
});

describe(StreamSlots.name, () => {
  it('should cap per key, then in total, and give a slot back once per release', () => {
    const sut = new StreamSlots(2, 3);
    const a1 = sut.acquire('a');
    sut.acquire('a');
    expect(() => sut.acquire('a')).toThrow(/AUDIT_STREAM_MAX_PER_KEY/);
    sut.acquire('b');
    expect(() => sut.acquire('b')).toThrow(/AUDIT_STREAM_MAX_TOTAL/);
    a1();
    a1();
    expect(sut.open).toBe(2);
    expect(() => sut.acquire('b')).not.toThrow();
  });
});

describe('read after write', () => {
  it('should call the store caught up only when every partition reached the end', () => {
    expect(projectedUpTo({ 0: '9' }, { 0: '10' })).toBe(true);
    expect(projectedUpTo({ 0: '8' }, { 0: '10' })).toBe(false);
    expect(projectedUpTo({}, { 0: '0' })).toBe(true);
    expect(projectedUpTo({ 0: '9' }, { 0: '10', 1: '3' })).toBe(false);
  });

  it('should wait for a recent UUIDv7 and any other id, not for an old UUIDv7', () => {
    const now = Date.UTC(2026, 11, 2);
    const v7 = (ms: number): string => {
      const h = ms.toString(16).padStart(12, '0');
      return `${h.slice(0, 8)}-${h.slice(8)}-7000-8000-000000000000`;
    };
    expect(mayBeInFlight(v7(now - 500), now)).toBe(true);
    expect(mayBeInFlight(v7(now - 3_600_000), now)).toBe(false);
    expect(mayBeInFlight('0f0e0d0c-0b0a-8909-8807-060504030201', now)).toBe(true);
    expect(mayBeInFlight('0f0e0d0c-0b0a-4909-8807-060504030201', now)).toBe(true);
  });
});
