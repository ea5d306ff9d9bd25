import { decodeRecord, encodeRecord } from './segment-codec';

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
});
