import { decodeUtf8Body, parseJsonBody, parseNdjsonBody, stripJsonComments } from './body-parsers';
import { decodeCursor, encodeCursor } from '@app/contracts';
import { RateLimiter } from './auth.guard';

describe('body parsers', () => {
  it('should accept the guide bodies with // comments but never change strings', () => {
    expect(parseJsonBody('{"retention_days": 2555, // 7 years\n"url": "http://a//b"}')).toEqual({
      retention_days: 2555,
      url: 'http://a//b',
    });
    expect(stripJsonComments('{"a": "x\\"//y"} /* c */')).toBe('{"a": "x\\"//y"}  ');
  });

  it('should name the NDJSON line that is broken', () => {
    expect(() => parseNdjsonBody('{"a":1}\n\n{"b":')).toThrow(/line 3/);
    expect(parseNdjsonBody('{"a":1}\n{"b":2}\n')).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('should refuse an empty body', () => {
    expect(() => parseJsonBody('  ')).toThrow(/empty/);
  });

  it('should refuse duplicate keys and excessive depth, naming where, also after comments and per NDJSON line', () => {
    expect(() => parseJsonBody('[{"event_type":"a"},{"event_type":"a","event_type":"b"}]')).toThrow(
      /'event_type' appears twice .* at \/1\/event_type/,
    );
    expect(() => parseJsonBody('{"a": 1, // c\n"a": 2}')).toThrow(/appears twice/);
    expect(() => parseNdjsonBody('{"a":1}\n{"m":{"k":1,"k":1}}')).toThrow(/line 2: .*\/m\/k/);
    const deep = '{"event_type":"x","metadata":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5001);
    expect(() => parseJsonBody(deep)).toThrow(/nested deeper than 64/);
    expect(() => parseNdjsonBody(deep)).toThrow(/nested deeper than 64/);
  });

  it('should refuse a body that is not UTF-8 instead of decoding it to U+FFFD', () => {
    expect(() => decodeUtf8Body(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).toThrow(/not valid UTF-8/);
    expect(() => decodeUtf8Body(Buffer.from('{"d":"\ud800"}', 'latin1'))).not.toThrow();
    expect(decodeUtf8Body(Buffer.from('{"d":"é😀"}'))).toBe('{"d":"é😀"}');
  });
});

describe('stream cursors', () => {
  it('should round-trip and refuse anything else', () => {
    expect(decodeCursor(encodeCursor({ 0: '12', 3: '-1' }))).toEqual({ 0: '12', 3: '-1' });
    expect(() => decodeCursor('0:1;DROP')).toThrow(/Last-Event-ID/);
  });
});

describe('RateLimiter', () => {
  it('should allow the budget per minute, then say how long to wait, then reset', () => {
    const limiter = new RateLimiter(2);
    expect(limiter.take('k', 0)).toBe(0);
    expect(limiter.take('k', 1000)).toBe(0);
    expect(limiter.take('k', 2000)).toBe(58);
    expect(limiter.take('other', 2000)).toBe(0);
    expect(limiter.take('k', 60_000)).toBe(0);
  });
});
