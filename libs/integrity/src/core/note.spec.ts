import { generateKeyPairSync } from 'node:crypto';
import { checkpointText, NoteError, openCheckpoint, openNote, parseVerifierKey, privateKeyFrom, signNote, verifierKeyText } from './note';

const signer = { name: 'audit.example/t1', privateKey: generateKeyPairSync('ed25519').privateKey };
const verifier = parseVerifierKey(verifierKeyText(signer));

describe('signed note (C2SP)', () => {
  it('should verify the C2SP signed-note example with its published verifier key', () => {
    const vkey = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
    const note =
      'This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';
    expect(openNote(note, [vkey])).toEqual({ text: 'This is an example message.\n', verifiedBy: ['example.com/foo'] });
  });

  it("should read a verifier key whose base64 holds '+'", () => {
    // given keys until one's base64 has a '+' (about 1 in 2 do)
    for (;;) {
      const s = { name: 'k', privateKey: generateKeyPairSync('ed25519').privateKey };
      const text = verifierKeyText(s);
      if (text.split('+').length <= 3) continue;
      expect(parseVerifierKey(text).name).toBe('k');
      return;
    }
  });

  it('should refuse a verifier key whose id does not match the key', () => {
    expect(() => parseVerifierKey('example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k')).toThrow(NoteError);
  });

  it('should sign a checkpoint that opens with the signer key', () => {
    // given a checkpoint of 5 leaves
    const root = Buffer.alloc(32, 7);
    const note = signNote(checkpointText({ origin: 'audit.example/t1', size: 5, rootHash: root }), signer);
    // then it has the C2SP layout and opens
    expect(note).toMatch(/^audit\.example\/t1\n5\nBwcH[^\n]+=\n\n\u2014 audit\.example\/t1 [A-Za-z0-9+/]{91}=\n$/);
    expect(openCheckpoint(note, [verifier], 'audit.example/t1')).toEqual({ origin: 'audit.example/t1', size: 5, rootHash: root });
  });

  it('should detect a tampered size, root or signature', () => {
    const note = signNote(checkpointText({ origin: 'audit.example/t1', size: 5, rootHash: Buffer.alloc(32, 7) }), signer);
    expect(() => openCheckpoint(note.replace('\n5\n', '\n6\n'), [verifier])).toThrow(/invalid signature/);
    expect(() => openCheckpoint(note.replace('BwcH', 'BwcI'), [verifier])).toThrow(/invalid signature/);
    const sigStart = note.lastIndexOf(' ') + 10;
    const flipped = note.slice(0, sigStart) + (note[sigStart] === 'A' ? 'B' : 'A') + note.slice(sigStart + 1);
    expect(() => openCheckpoint(flipped, [verifier])).toThrow(/invalid signature/);
  });

  it('should name a copy that added a newline after the signatures (what `jq -r` does) instead of misreading it', () => {
    const note = signNote(checkpointText({ origin: 'audit.example/t1', size: 5, rootHash: Buffer.alloc(32, 7) }), signer);
    expect(() => openCheckpoint(`${note}\n`, [verifier])).toThrow(/an empty line after its signatures .*jq -j/);
    expect(() => signNote('a\n\nb\n', signer)).toThrow(/must not contain a blank line/);
  });

  it('should refuse a note signed only by an unknown key, and ignore unknown cosigners', () => {
    const other = { name: 'witness.example', privateKey: generateKeyPairSync('ed25519').privateKey };
    const text = checkpointText({ origin: 'audit.example/t1', size: 1, rootHash: Buffer.alloc(32) });
    expect(() => openNote(signNote(text, other), [verifier])).toThrow(/no signature by a known key/);
    const both = signNote(text, signer) + signNote(text, other).split('\n\n')[1];
    expect(openNote(both, [verifier]).verifiedBy).toEqual(['audit.example/t1']);
  });

  it('should refuse a checkpoint from another origin', () => {
    const note = signNote(checkpointText({ origin: 'audit.example/t2', size: 1, rootHash: Buffer.alloc(32) }), signer);
    expect(() => openCheckpoint(note, [verifier], 'audit.example/t1')).toThrow(/not audit.example\/t1/);
  });

  describe(privateKeyFrom.name, () => {
    it('should read a PKCS8 PEM and a hex seed to the same key', () => {
      const pem = signer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const seed = signer.privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(16).toString('hex');
      const fromPem = { name: signer.name, privateKey: privateKeyFrom(pem) };
      const fromSeed = { name: signer.name, privateKey: privateKeyFrom(seed) };
      expect(verifierKeyText(fromPem)).toBe(verifierKeyText(signer));
      expect(verifierKeyText(fromSeed)).toBe(verifierKeyText(signer));
    });

    it('should refuse a seed of the wrong length', () => {
      expect(() => privateKeyFrom('abcd')).toThrow(/32 bytes/);
    });
  });
});
