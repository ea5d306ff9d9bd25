import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError } from './config-error';
import { loadSecretsKey, parseSecretsKey, SecretBox } from './secret-box';

describe(SecretBox.name, () => {
  const key = randomBytes(32);

  it('should open what it sealed, and seal the same text differently each time', () => {
    const box = new SecretBox(key);
    const a = box.seal('hec-token-1234');
    expect(box.open(a)).toBe('hec-token-1234');
    expect(box.seal('hec-token-1234')).not.toBe(a);
    expect(a).not.toContain('hec-token');
    expect(SecretBox.isSealed(a)).toBe(true);
    expect(SecretBox.isSealed('hec-token-1234')).toBe(false);
  });

  it('should refuse to open under another key', () => {
    const sealed = new SecretBox(key).seal('secret');
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow();
  });

  it('should refuse a changed ciphertext, tag or IV', () => {
    const box = new SecretBox(key);
    const [v, iv, tag, body] = box.seal('a longer secret value').split('.');
    const flip = (b64: string): string => {
      const b = Buffer.from(b64, 'base64');
      b[0] ^= 1;
      return b.toString('base64');
    };
    expect(() => box.open([v, iv, tag, flip(body)].join('.'))).toThrow();
    expect(() => box.open([v, iv, flip(tag), body].join('.'))).toThrow();
    expect(() => box.open([v, flip(iv), tag, body].join('.'))).toThrow();
    expect(() => box.open('plain text')).toThrow('not a sealed secret');
  });

  it('should want a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow();
  });
});

describe(parseSecretsKey.name, () => {
  it('should read base64 and hex of 32 bytes', () => {
    const k = randomBytes(32);
    expect(parseSecretsKey(k.toString('base64'))).toEqual(k);
    expect(parseSecretsKey(k.toString('hex'))).toEqual(k);
    expect(parseSecretsKey(undefined)).toBeUndefined();
  });

  it.each([randomBytes(16).toString('base64'), 'not a key!', randomBytes(31).toString('hex')])(
    'should refuse %j naming the variable',
    (t) => {
      expect(() => parseSecretsKey(t)).toThrow(ConfigError);
      expect(() => parseSecretsKey(t)).toThrow('AUDIT_SECRETS_KEY');
    },
  );
});

describe(loadSecretsKey.name, () => {
  it('should generate one key file (0600) under the data dir once and read it back after', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'secrets-'));
    const first = await loadSecretsKey(undefined, dir);
    expect(first).toHaveLength(32);
    expect(await loadSecretsKey(undefined, dir)).toEqual(first);
    const file = path.join(dir, 'alerting-secrets.key');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.toString('base64'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('should use the configured key and write nothing', async () => {
    const k = randomBytes(32);
    const dir = mkdtempSync(path.join(tmpdir(), 'secrets-'));
    expect(await loadSecretsKey(k, dir)).toBe(k);
    expect(() => statSync(path.join(dir, 'alerting-secrets.key'))).toThrow();
  });
});
