import { EventInserts, RebuiltBucket, RollupRepair } from './store-ports';
import { StoreWriter } from './store-writer';

/** A store whose inserts finish only when the test says so. */
function fakeStore() {
  const inserts: Array<{ lines: string[]; token: string; finish: (error?: Error) => void }> = [];
  const progress: Array<Array<{ partition: number; offset: string }>> = [];
  const calls: string[] = [];
  const reconcile = { fail: false };
  const store: EventInserts & RollupRepair = {
    reconcileRollup: async (): Promise<RebuiltBucket[]> => {
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
  return { store, inserts, progress, calls, reconcile };
}

/** chdb's raw insert's error for a row it cannot parse, as it throws it (ChdbInsertError's shape). */
const chdbParseError = (row: number): Error =>
  Object.assign(
    new Error(
      `Code: 25. DB::Exception: Cannot parse escape sequence: missing second part of surrogate pair: (while reading the value of key description): (at row ${row})\n: While executing ParallelParsingBlockInputFormat. (CANNOT_PARSE_ESCAPE_SEQUENCE)`,
    ),
    { code: 'CHDB_INSERT', clickhouseCode: 25 },
  );

/**
 * A store that refuses every line holding `bad`, the way ClickHouse does (nothing of a refused insert is
 * stored), and stores the rest; each insert is recorded with its token.
 */
function refusingStore(bad: string, error: (row: number, lines: string[]) => Error = (row) => chdbParseError(row)) {
  const stored: string[] = [];
  const inserts: Array<{ lines: string[]; token: string }> = [];
  const tokens = new Set<string>();
  const calls: string[] = [];
  const store: EventInserts & RollupRepair = {
    insertLines: async (lines, token) => {
      inserts.push({ lines, token });
      calls.push('insert');
      const row = lines.findIndex((l) => l.includes(bad));
      if (row >= 0) throw error(row + 1, lines);
      // The dedup token: an insert with a token seen before is dropped, as ClickHouse does.
      if (tokens.has(token)) return;
      tokens.add(token);
      stored.push(...lines);
    },
    recordProgress: async () => undefined,
    reconcileRollup: async () => {
      calls.push('reconcile');
      return [];
    },
  };
  return { store, stored, inserts, calls };
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

describe(`${StoreWriter.name} when the store refuses rows`, () => {
  const lines = (n: number, bad: number[]): string[] => Array.from({ length: n }, (_, i) => (bad.includes(i) ? `bad${i}` : `ok${i}`));

  it("should store every other row and hand back exactly the refused ones, with the store's error, to the write that holds them", async () => {
    // given two writes sharing one insert, with bad rows at 3 of the first and 1 and 6 of the second
    const { store, stored } = refusingStore('bad');
    const inserted: number[] = [];
    const writer = new StoreWriter(store, { onInsert: (rows) => inserted.push(rows) });
    const first = lines(10, [3]);
    const second = lines(8, [1, 6]).map((l) => `b-${l}`);

    // when
    const [a, b] = await Promise.all([writer.write(first, 't:0:0-9', 0, '9'), writer.write(second, 't:1:0-7', 1, '7')]);

    // then
    expect(a.map((r) => r.index)).toEqual([3]);
    expect(b.map((r) => r.index)).toEqual([1, 6]);
    expect(a[0].code).toBe('CANNOT_PARSE_ESCAPE_SEQUENCE');
    expect(a[0].reason).toMatch(/^Code: 25\. DB::Exception: Cannot parse escape sequence/);
    expect([...stored].sort()).toEqual([...first, ...second].filter((l) => !l.includes('bad')).sort());
    expect(inserted).toEqual([15]);
  });

  it('should isolate one bad row of 10,000 in a few inserts when the store says where it is, and by halves when it does not', async () => {
    const rows = lines(10_000, [7776]);
    const hinted = refusingStore('bad');
    await expect(new StoreWriter(hinted.store).write(rows, 't', 0, '9999')).resolves.toEqual([expect.objectContaining({ index: 7776 })]);
    // the whole, then the rows before the bad one, it alone, the rows after
    expect(hinted.inserts.map((i) => i.lines.length)).toEqual([10_000, 7776, 1, 2223]);

    const silent = refusingStore('bad', () =>
      Object.assign(new Error('Cannot parse input'), { code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' }),
    );
    await expect(new StoreWriter(silent.store).write(rows, 't', 0, '9999')).resolves.toEqual([
      expect.objectContaining({ index: 7776, code: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' }),
    ]);
    expect(silent.inserts.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(10_000)));
    expect(silent.stored).toHaveLength(9999);
  });

  it('should fall back to halves when the row the store names is not the bad one', async () => {
    // the store always names row 1, wrongly after the first split
    const { store, stored, inserts } = refusingStore('bad', () => chdbParseError(1));
    await expect(new StoreWriter(store).write(lines(1000, [0, 900]), 't', 0, '999')).resolves.toEqual([
      expect.objectContaining({ index: 0 }),
      expect.objectContaining({ index: 900 }),
    ]);
    expect(stored).toHaveLength(998);
    expect(inserts.length).toBeLessThan(40);
  });

  it('should give each part its own token, so a redelivery after a split stores nothing twice and drops nothing', async () => {
    const { store, stored, inserts } = refusingStore('bad');
    const insertLines = store.insertLines;
    const rows = lines(100, [10, 50]);
    // given a split cut by a lost connection after some parts were stored
    let left = 3;
    store.insertLines = async (l, token) => {
      if (left-- === 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return insertLines(l, token);
    };
    await expect(new StoreWriter(store).write(rows, 't:0:0-99', 0, '99')).rejects.toThrow('socket hang up');
    store.insertLines = insertLines;
    const storedBefore = new Set(stored);
    expect(storedBefore.size).toBeGreaterThan(0);

    // when the batch comes back with the rows found stored dropped (as the consumer does), and then whole
    const writer = new StoreWriter(store);
    const redelivered = rows.filter((l) => !storedBefore.has(l));
    await expect(writer.write(redelivered, 't:0:0-99', 0, '99')).resolves.toHaveLength(2);
    await expect(writer.write(rows, 't:0:0-99', 0, '99')).resolves.toHaveLength(2);

    // then every good row is stored once, though some parts of the last split repeated earlier ones
    expect([...stored].sort()).toEqual(rows.filter((l) => !l.includes('bad')).sort());
    expect(new Set(inserts.map((i) => i.token)).size).toBeLessThan(inserts.length);
  });

  it('should still reject the whole group for a retry when the store is unreachable or overloaded, also in the middle of a split', async () => {
    for (const transient of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('Too many parts (3001)'), { code: '252', type: 'TOO_MANY_PARTS' }),
      Object.assign(new Error('Code: 241. DB::Exception: Memory limit (total) exceeded'), { code: 'CHDB_INSERT', clickhouseCode: 241 }),
    ]) {
      const { store, inserts, progress } = fakeStore();
      const writer = new StoreWriter(store);
      const a = writer.write(['a', 'b'], 'ta', 0, '1');
      const b = writer.write(['c'], 'tb', 1, '1');
      await tick();
      inserts[0].finish(transient);
      await expect(a).rejects.toBe(transient);
      await expect(b).rejects.toBe(transient);
      expect(inserts).toHaveLength(1);
      expect(progress).toEqual([]);
    }
    // a permanent error first, then the store goes away while the rows are split
    const { store, inserts, progress } = fakeStore();
    const writer = new StoreWriter(store);
    const c = writer.write(['a', 'b', 'c', 'd'], 'tc', 0, '3');
    await tick();
    inserts[0].finish(chdbParseError(3));
    await tick();
    inserts[1].finish();
    await tick();
    inserts[2].finish(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await expect(c).rejects.toThrow('socket hang up');
    expect(progress).toEqual([]);
  });

  it('as the sole writer, should reconcile the roll-up before the next insert after a split', async () => {
    const { store, calls } = refusingStore('bad');
    const writer = new StoreWriter(store, { soleWriter: true });
    await writer.write(['ok', 'bad'], 'ta', 0, '1');
    await writer.write(['ok2'], 'tb', 0, '2');
    // the whole, then each row alone (the store named the second)
    expect(calls).toEqual(['insert', 'insert', 'insert', 'reconcile', 'insert']);
  });
});
