import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ConfigError, dataDirSecret } from '@app/common';
import { privateKeyFrom } from './core';

/**
 * The checkpoint signing key: AUDIT_INTEGRITY_KEY when given, else generated once and kept in the
 * configuration store as an encrypted PKCS8 PEM (AES-256-CBC, scrypt-derived). The passphrase is
 * AUDIT_INTEGRITY_KEY_PASSPHRASE, else a random one in the data directory, so a dump of the database alone
 * does not hold the key. Replicas share the key through the store, so they need the passphrase variable.
 */
export async function loadSigningKey(
  ds: DataSource,
  options: { key?: string; passphrase?: string; dataDir: string },
): Promise<{ key: KeyObject; source: 'config' | 'generated' | 'stored' }> {
  if (options.key !== undefined) return { key: privateKeyFrom(options.key), source: 'config' };
  const passphrase = options.passphrase ?? (await dataDirPassphrase(options.dataDir));
  const stored = (await ds.query(`SELECT encrypted_pkcs8 FROM integrity_keys WHERE name = 'signing'`)) as Array<{
    encrypted_pkcs8: string;
  }>;
  if (stored.length > 0) return { key: decrypt(stored[0].encrypted_pkcs8, passphrase, options.passphrase !== undefined), source: 'stored' };
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
  // Two replicas starting at once: the first insert wins and both use its key.
  await ds.query(`INSERT INTO integrity_keys (name, encrypted_pkcs8) VALUES ('signing', $1) ON CONFLICT DO NOTHING`, [pem]);
  const [row] = (await ds.query(`SELECT encrypted_pkcs8 FROM integrity_keys WHERE name = 'signing'`)) as Array<{ encrypted_pkcs8: string }>;
  return {
    key: decrypt(row.encrypted_pkcs8, passphrase, options.passphrase !== undefined),
    source: row.encrypted_pkcs8 === pem ? 'generated' : 'stored',
  };
}

function decrypt(pem: string, passphrase: string, fromConfig: boolean): KeyObject {
  try {
    return createPrivateKey({ key: pem, passphrase });
  } catch {
    // Typically a second replica, or a new data directory, without the passphrase the key was stored with.
    throw new ConfigError(
      'AUDIT_INTEGRITY_KEY_PASSPHRASE',
      fromConfig
        ? 'does not decrypt the signing key stored in the configuration store'
        : 'is needed: the signing key in the configuration store was encrypted with another passphrase (another data directory)',
    );
  }
}

/** A random passphrase in <data dir>/integrity/key-passphrase (the shared helper; the stored format is unchanged). */
function dataDirPassphrase(dataDir: string): Promise<string> {
  return dataDirSecret(path.join(dataDir, 'integrity'), 'key-passphrase', () => randomBytes(32).toString('base64'));
}
