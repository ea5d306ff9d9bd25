import { datagram, frame, frameAll, frameLf, frameOctetCounted } from './framing';

describe('framing', () => {
  describe(frameOctetCounted.name, () => {
    it('should count UTF-8 bytes of the message alone, not the digits nor the space', () => {
      expect(frameOctetCounted('abc').toString()).toBe('3 abc');
      expect(frameOctetCounted('é').toString()).toBe('2 é');
    });
  });

  describe(frameLf.name, () => {
    it('should append one LF, and refuse a message holding a line break', () => {
      expect(frame('abc', 'lf').toString()).toBe('abc\n');
      expect(() => frameLf('a\nb')).toThrow(/line break/);
    });
  });

  describe(frameAll.name, () => {
    const messages = ['abc', 'é', '', '<110>1 - - - - - - x y'];

    it.each(['lf', 'octet-counting'] as const)('should write exactly the frames of %s one after the other', (framing) => {
      const one = frameAll(messages, framing);
      expect(one.equals(Buffer.concat(messages.map((m) => frame(m, framing))))).toBe(true);
      expect(frameAll([], framing).length).toBe(0);
    });

    it('should refuse a batch holding a message with a line break when LF-framed', () => {
      expect(() => frameAll(['a', 'b\rc'], 'lf')).toThrow(/line break/);
      expect(frameAll(['b\rc'], 'octet-counting').toString()).toBe('3 b\rc');
    });
  });

  describe(datagram.name, () => {
    it('should send a message that fits as is', () => {
      expect(datagram('abc', 480)).toEqual({ bytes: Buffer.from('abc'), truncated: false });
    });

    it('should cut at a character boundary, never inside a UTF-8 sequence', () => {
      const r = datagram('aé', 2);
      expect(r.bytes.toString()).toBe('a');
      expect(r.truncated).toBe(true);
    });

    it('should not leave half an escape at the end', () => {
      expect(datagram('ab\\\\cd', 3).bytes.toString()).toBe('ab');
      expect(datagram('ab\\\\cd', 4).bytes.toString()).toBe('ab\\\\');
    });
  });
});
