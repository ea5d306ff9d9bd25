import { EventStoreRepository } from './event-store.repository';
import { StoreWriter } from './store-writer';

/** A store whose inserts finish only when the test says so. */
function fakeStore() {
  const inserts: Array<{ lines: string[]; token: string; finish: (error?: Error) => void }> = [];
  const progress: Array<Array<{ partition: number; offset: string }>> = [];
  const store = {
    insertLines: (lines: string[], token: string) =>
      new Promise<void>((resolve, reject) => inserts.push({ lines, token, finish: (e) => (e ? reject(e) : resolve()) })),
    recordProgress: async (positions: Array<{ partition: number; offset: string }>) => {
      progress.push(positions);
    },
  };
  return { store: store as unknown as EventStoreRepository, inserts, progress };
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
});
