import { EventStoreRepository } from './event-store.repository';
import { StoreWriter } from './store-writer';

/** A store whose inserts finish only when the test says so. */
function fakeStore() {
  const inserts: Array<{ lines: string[]; token: string; finish: (error?: Error) => void }> = [];
  const progress: Array<Array<{ partition: number; offset: string }>> = [];
  const calls: string[] = [];
  const reconcile = { fail: false };
  const store = {
    reconcileRollup: async () => {
      calls.push('reconcile');
      if (reconcile.fail) throw new Error('store down');
      return [{ rollup: 'events_hourly', tenant_id: 'default', bucket: '2026-11-30T06:00:00.000Z' }];
    },
    insertLines: (lines: string[], token: string) =>
      new Promise<void>((resolve, reject) => {
        calls.push(`insert ${lines.join('')}`);
        inserts.push({ lines, token, finish: (e) => (e ? reject(e) : resolve()) });
      }),
    recordProgress: async (positions: Array<{ partition: number; offset: string }>) => {
      progress.push(positions);
    },
  };
  return { store: store as unknown as EventStoreRepository, inserts, progress, calls, reconcile };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('StoreWriter', () => {
  it('should store what arrives during an insert in one next insert, with one progress row per partition', async () => {
    const { store, inserts, progress } = fakeStore();
    const inserted: number[] = [];
    const writer = new StoreWriter(store, { onInsert: (rows) => inserted.push(rows) });
    const settled: string[] = [];
    const first = writer.write(['a'], 't:0:0-0', 0, '0').then(() => settled.push('first'));
    await tick();
    expect(inserts).toHaveLength(1);
    const second = writer.write(['b', 'c'], 't:1:0-1', 1, '1').then(() => settled.push('second'));
    const third = writer.write(['d'], 't:2:5-5', 2, '5').then(() => settled.push('third'));
    await tick();
    expect(inserts).toHaveLength(1);
    inserts[0].finish();
    await first;
    await tick();
    expect(settled).toEqual(['first']);
    expect(inserts).toHaveLength(2);
    expect(inserts[1].lines).toEqual(['b', 'c', 'd']);
    expect(inserts[1].token).toBe('t:1:0-1,t:2:5-5');
    inserts[1].finish();
    await Promise.all([second, third]);
    expect(inserted).toEqual([1, 3]);
    expect(progress).toEqual([
      [{ partition: 0, offset: '0' }],
      [
        { partition: 1, offset: '1' },
        { partition: 2, offset: '5' },
      ],
    ]);
  });

  it('should cap the rows of one insert, and fail every write of a failed insert without recording progress', async () => {
    const { store, inserts, progress } = fakeStore();
    const writer = new StoreWriter(store, { maxRowsPerInsert: 3 });
    const a = writer.write(['a', 'b'], 'ta', 0, '1');
    const b = writer.write(['c', 'd'], 'tb', 1, '1');
    await tick();
    expect(inserts.map((i) => i.lines)).toEqual([['a', 'b']]);
    inserts[0].finish(new Error('disk full'));
    await expect(a).rejects.toThrow('disk full');
    await tick();
    expect(inserts.map((i) => i.lines)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    inserts[1].finish();
    await b;
    expect(progress).toEqual([[{ partition: 1, offset: '1' }]]);
  });

  it('as the sole writer, should reconcile the roll-up after a failed insert and before the next one, until it succeeds', async () => {
    const { store, inserts, calls, reconcile } = fakeStore();
    const repaired: number[] = [];
    const writer = new StoreWriter(store, { soleWriter: true, onRollupRepaired: (hours) => repaired.push(hours.length) });
    const a = writer.write(['a'], 'ta', 0, '1');
    await tick();
    inserts[0].finish(new Error('disk full'));
    await expect(a).rejects.toThrow('disk full');
    reconcile.fail = true;
    await expect(writer.write(['b'], 'tb', 0, '2')).rejects.toThrow('store down');
    reconcile.fail = false;
    const c = writer.write(['c'], 'tc', 0, '3');
    await tick();
    await tick();
    inserts[1].finish();
    await c;
    const d = writer.write(['d'], 'td', 0, '4');
    await tick();
    inserts[2].finish();
    await d;
    expect(calls).toEqual(['insert a', 'reconcile', 'reconcile', 'insert c', 'insert d']);
    expect(repaired).toEqual([1]);
  });

  it('should not reconcile after a failure when other writers may share the store', async () => {
    const { store, inserts, calls } = fakeStore();
    const writer = new StoreWriter(store);
    const a = writer.write(['a'], 'ta', 0, '1');
    await tick();
    inserts[0].finish(new Error('disk full'));
    await expect(a).rejects.toThrow('disk full');
    const b = writer.write(['b'], 'tb', 0, '2');
    await tick();
    inserts[1].finish();
    await b;
    expect(calls).toEqual(['insert a', 'insert b']);
  });
});
