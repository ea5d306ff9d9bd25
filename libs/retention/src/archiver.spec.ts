import { idsOfLines, keySegment } from './archiver';

describe('idsOfLines', () => {
  const a = '0190aaaa-bbbb-7ccc-8ddd-eeeeffff0001';
  const b = '0190aaaa-bbbb-7ccc-8ddd-eeeeffff0002';

  it('should take each line id from its start, in line order', () => {
    const lines = `{"id":"${a}","event_type":"x","description":"{\\"id\\":\\"not this\\"}"}\n{"id":"${b}","event_type":"y"}\n`;
    expect(idsOfLines(lines)).toEqual([a, b]);
  });

  it('should give none for an empty page, and refuse a line that does not start with its id', () => {
    expect(idsOfLines('')).toEqual([]);
    expect(() => idsOfLines(`{"event_type":"x","id":"${a}"}\n`)).toThrow(/does not start with its id/);
  });
});

describe('keySegment', () => {
  it('should keep a safe name and hex-encode any other', () => {
    expect(keySegment('security_events')).toBe('security_events');
    expect(keySegment('..')).toBe(`x-${Buffer.from('..').toString('hex')}`);
    expect(keySegment('a/b')).toBe(`x-${Buffer.from('a/b').toString('hex')}`);
  });
});
