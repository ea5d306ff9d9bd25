import { decodeRecord, encodeRecord, HeaderMemo } from './segment-codec';

describe('segment codec', () => {
  it('should round-trip a record with key and headers', () => {
    const buf = encodeRecord(1234.5, 'k', { a: 'b' }, Buffer.from('{"x":1}'));
    const rec = decodeRecord(buf, 0);
    expect(rec).toEqual({ timestampMs: 1234.5, key: 'k', headers: { a: 'b' }, value: Buffer.from('{"x":1}'), size: buf.length });
  });

  it('should keep a null key distinct from an empty one', () => {
    expect(decodeRecord(encodeRecord(1, null, undefined, Buffer.from('v')), 0)?.key).toBeNull();
    expect(decodeRecord(encodeRecord(1, '', undefined, Buffer.from('v')), 0)?.key).toBe('');
  });

  it('should refuse a torn tail and a corrupted body', () => {
    const buf = encodeRecord(1, 'k', undefined, Buffer.from('hello world'));
    expect(decodeRecord(buf.subarray(0, buf.length - 1), 0)).toBeNull();
    const bad = Buffer.from(buf);
    bad[bad.length - 1] ^= 0xff;
    expect(decodeRecord(bad, 0)).toBeNull();
  });

  it('should parse a run of equal headers once and share them frozen, and parse different ones afresh', () => {
    const a = encodeRecord(1, 'k', { h: '1' }, Buffer.from('a'));
    const b = encodeRecord(2, 'k', { h: '1' }, Buffer.from('b'));
    const c = encodeRecord(3, 'k', { h: '2' }, Buffer.from('c'));
    const buf = Buffer.concat([a, b, c]);
    const memo: HeaderMemo = { bytes: null, headers: {} };
    const first = decodeRecord(buf, 0, memo)!;
    const second = decodeRecord(buf, a.length, memo)!;
    const third = decodeRecord(buf, a.length + b.length, memo)!;
    expect(second.headers).toBe(first.headers);
    expect(Object.isFrozen(first.headers)).toBe(true);
    expect(third.headers).toEqual({ h: '2' });
    expect(third.headers).not.toBe(first.headers);
    expect(decodeRecord(b, 0)!.headers).toEqual({ h: '1' });
  });
});
