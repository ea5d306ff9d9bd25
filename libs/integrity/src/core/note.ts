import { createHash, createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'node:crypto';

/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519, and C2SP tlog-checkpoints (c2sp.org/tlog-checkpoint)
 * as their text. Pure apart from node:crypto; the offline verifier uses the same code.
 *
 *   <text, ending in LF>
 *   <blank line>
 *   — <key name> <base64(4-byte key ID ‖ 64-byte Ed25519 signature)>
 */

const ED25519 = 0x01;
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const DASH = '\u2014 ';
const MAX_SIGNATURES = 100;

export class NoteError extends Error {}

function checkKeyName(name: string): void {
  if (name === '' || /[\s+]/u.test(name) || /\p{Cc}/u.test(name))
    throw new NoteError(`key name ${JSON.stringify(name)} must have no spaces, '+' or controls`);
}

export function keyId(name: string, rawPublicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519]))
    .update(rawPublicKey)
    .digest()
    .subarray(0, 4);
}

export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32);
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new NoteError('an Ed25519 public key has 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** A note signer: the private key and the name its signatures carry. */
export interface NoteSigner {
  name: string;
  privateKey: KeyObject;
}

/** A verifier key: `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`, the format Go's note package reads. */
export interface NoteVerifier {
  name: string;
  id: Buffer;
  publicKey: KeyObject;
}

export function verifierKeyText(signer: NoteSigner): string {
  checkKeyName(signer.name);
  const raw = rawPublicKey(createPublicKey(signer.privateKey));
  return `${signer.name}+${keyId(signer.name, raw).toString('hex')}+${Buffer.concat([Buffer.from([ED25519]), raw]).toString('base64')}`;
}

export function parseVerifierKey(text: string): NoteVerifier {
  // Split at the first two '+' only (as Go's note package does): the base64 key may hold '+' itself.
  const t = text.trim();
  const a = t.indexOf('+');
  const b = a < 0 ? -1 : t.indexOf('+', a + 1);
  if (b < 0) throw new NoteError('a verifier key is <name>+<key id>+<key>');
  const [name, idHex, keyB64] = [t.slice(0, a), t.slice(a + 1, b), t.slice(b + 1)];
  checkKeyName(name);
  const key = Buffer.from(keyB64, 'base64');
  if (key.length !== 33 || key[0] !== ED25519) throw new NoteError('only Ed25519 verifier keys (type 0x01) are supported');
  const raw = key.subarray(1);
  const id = keyId(name, raw);
  if (!/^[0-9a-f]{8}$/.test(idHex) || id.toString('hex') !== idHex) throw new NoteError('the key id does not match the key');
  return { name, id, publicKey: publicKeyFromRaw(raw) };
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('a note text ends in a newline');
  if (text.includes('\n\n')) throw new NoteError('a note text must not contain a blank line');
  if (/[\p{Cc}]/u.test(text.replace(/\n/g, ''))) throw new NoteError('a note text has no control characters but newlines');
}

export function signNote(text: string, signer: NoteSigner): string {
  checkText(text);
  checkKeyName(signer.name);
  const raw = rawPublicKey(createPublicKey(signer.privateKey));
  const sig = sign(null, Buffer.from(text, 'utf8'), signer.privateKey);
  return `${text}\n${DASH}${signer.name} ${Buffer.concat([keyId(signer.name, raw), sig]).toString('base64')}\n`;
}

export interface OpenedNote {
  text: string;
  /** Names of the known keys whose signatures verified. */
  verifiedBy: string[];
}

/**
 * Verifies a signed note against known keys. Unknown keys' signatures are ignored (the spec's rule, so a
 * witness can cosign); a known key whose signature fails makes the whole note invalid; at least one known
 * key must have signed.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  if (note.endsWith('\n\n')) {
    throw new NoteError(
      'malformed note: an empty line after its signatures (a copy that added a newline, such as `jq -r`; `jq -j` keeps it exact)',
    );
  }
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('malformed note: no signature block');
  const text = note.slice(0, split + 1);
  checkText(text);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('too many signatures');
  const verifiedBy: string[] = [];
  for (const line of lines) {
    if (!line.startsWith(DASH)) throw new NoteError('malformed signature line');
    const [name, b64, ...rest] = line.slice(DASH.length).split(' ');
    if (rest.length > 0 || name === undefined || b64 === undefined) throw new NoteError('malformed signature line');
    const sig = Buffer.from(b64, 'base64');
    if (sig.length < 5 || sig.toString('base64') !== b64) throw new NoteError('malformed signature');
    const known = verifiers.find((v) => v.name === name && v.id.equals(sig.subarray(0, 4)));
    if (known === undefined) continue;
    if (!verify(null, Buffer.from(text, 'utf8'), known.publicKey, sig.subarray(4))) throw new NoteError(`invalid signature by ${name}`);
    verifiedBy.push(name);
  }
  if (verifiedBy.length === 0) throw new NoteError('no signature by a known key');
  return { text, verifiedBy };
}

/** A tlog-checkpoint's body: origin, tree size, base64 root hash (no extension lines: monitors can't audit them). */
export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
}

export function checkpointText(c: Checkpoint): string {
  if (c.origin === '' || /[\s+]/u.test(c.origin)) throw new NoteError('a checkpoint origin has no spaces or +');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new NoteError('a tree size is a non-negative integer');
  if (c.rootHash.length !== 32) throw new NoteError('a root hash has 32 bytes');
  return `${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\n`;
}

export function parseCheckpointText(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw new NoteError('a checkpoint has origin, size and root lines');
  const [origin, size, root] = lines;
  if (!/^(0|[1-9]\d*)$/.test(size) || !Number.isSafeInteger(Number(size))) throw new NoteError('malformed tree size');
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== root) throw new NoteError('malformed root hash');
  return { origin, size: Number(size), rootHash };
}

/** Parses and verifies a signed checkpoint; `origin` pins the log it must come from. */
export function openCheckpoint(note: string, verifiers: readonly NoteVerifier[], origin?: string): Checkpoint {
  const checkpoint = parseCheckpointText(openNote(note, verifiers).text);
  if (origin !== undefined && checkpoint.origin !== origin) throw new NoteError(`checkpoint is for ${checkpoint.origin}, not ${origin}`);
  return checkpoint;
}

/** Ed25519 from a PKCS8 PEM or a 32-byte seed (hex or base64). */
export function privateKeyFrom(material: string): KeyObject {
  const text = material.trim();
  if (text.startsWith('-----BEGIN')) {
    const key = createPrivateKey(text);
    if (key.asymmetricKeyType !== 'ed25519') throw new NoteError('the key must be Ed25519');
    return key;
  }
  const seed = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (seed.length !== 32) throw new NoteError('an Ed25519 seed has 32 bytes (64 hex digits or base64)');
  // PKCS8 wrapping of a raw Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}
