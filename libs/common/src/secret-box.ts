import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ConfigError } from './config-error';
import { dataDirSecret } from './data-dir-secret';

/**
 * Secrets at rest (webhook signing secrets, SIEM client keys and tokens): AES-256-GCM under the deployment's
 * key, a fresh 96-bit IV per value, `v1.<iv>.<tag>.<ciphertext>` in base64. Encrypted rather than hashed
 * because the service must use them; a database dump alone does not give them away, and a value sealed under
 * another key, or changed, does not open (GCM's tag).
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the secrets key must be 32 bytes');
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1.${iv.toString('base64')}.${cipher.getAuthTag().toString('base64')}.${body.toString('base64')}`;
  }

  open(sealed: string): string {
    const [v, iv, tag, body] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || body === undefined) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  }

  static isSealed(value: string): boolean {
    return /^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]*$/.test(value);
  }
}

/** AUDIT_SECRETS_KEY: 32 bytes as base64 (`openssl rand -base64 32`) or 64 hex digits (`openssl rand -hex 32`). */
export function parseSecretsKey(text: string | undefined): Buffer | undefined {
  if (text === undefined || text === '') return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const b = Buffer.from(text, 'base64');
  if (b.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    throw new ConfigError('AUDIT_SECRETS_KEY', 'must be 32 bytes as base64 (openssl rand -base64 32) or 64 hex digits');
  }
  return b;
}

/**
 * The secrets key: AUDIT_SECRETS_KEY when given (required in the distributed mode: every replica needs the same),
 * else, in the embedded mode, one generated once in AUDIT_DATA_DIR. The file keeps the name alerting gave it
 * first, so the webhook secrets already sealed under it still open.
 */
export async function loadSecretsKey(configured: Buffer | undefined, dataDir: string): Promise<Buffer> {
  if (configured) return configured;
  const text = await dataDirSecret(path.resolve(dataDir), 'alerting-secrets.key', () => randomBytes(32).toString('base64'));
  return Buffer.from(text, 'base64');
}
