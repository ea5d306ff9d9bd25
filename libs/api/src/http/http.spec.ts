import { parseJsonBody, parseNdjsonBody, stripJsonComments } from './body-parsers';
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
