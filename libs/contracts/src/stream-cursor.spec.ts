import { decodeCursor, encodeCursor, isCursorEntry, MAX_CURSOR_PARTITIONS } from './stream-cursor';

describe('stream cursors', () => {
  it('should round-trip a cursor through its text form, partitions in order', () => {
    expect(encodeCursor({ 3: '-1', 0: '12' })).toBe('0:12,3:-1');
    expect(decodeCursor('0:12,3:-1')).toEqual({ 0: '12', 3: '-1' });
  });

  it('should accept in text exactly the entries the RPC validator accepts', () => {
    const entries: Array<[string, unknown, boolean]> = [
      ['0', '0', true],
      ['99999', '-1', true],
      ['0', '9223372036854775807', true],
      ['100000', '0', false],
      ['0', '1e3', false],
      ['-1', '0', false],
      ['0', '12345678901234567890', false],
    ];
    for (const [p, o, ok] of entries) {
      expect({ entry: `${p}:${String(o)}`, rpc: isCursorEntry(p, o) }).toEqual({ entry: `${p}:${String(o)}`, rpc: ok });
      const text = (): unknown => decodeCursor(`${p}:${String(o)}`);
      if (ok) expect(text()).toEqual({ [Number(p)]: o });
      else expect(text).toThrow(/Last-Event-ID/);
    }
    expect(isCursorEntry('0', 12)).toBe(false);
  });

  it(`should take at most ${MAX_CURSOR_PARTITIONS} partitions`, () => {
    const cursor = (n: number): string => Array.from({ length: n }, (_, i) => `${i}:0`).join(',');
    expect(Object.keys(decodeCursor(cursor(MAX_CURSOR_PARTITIONS)))).toHaveLength(MAX_CURSOR_PARTITIONS);
    expect(() => decodeCursor(cursor(MAX_CURSOR_PARTITIONS + 1))).toThrow(/Last-Event-ID/);
  });
});
