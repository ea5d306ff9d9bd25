import { datagram, frame, frameLf, frameOctetCounted } from './framing';

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
