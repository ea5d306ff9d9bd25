import { ConfigError, defineConfigSection, env } from '@app/common';
import { privateKeyFrom } from './core';

const ORIGIN_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/:]{0,200}$/;

/** The integrity capability's settings (parsed only where it runs: the all-in-one and apps/integrity). */
export const INTEGRITY_CONFIG = defineConfigSection({
  name: 'integrity',
  variables: ['AUDIT_INTEGRITY_KEY', 'AUDIT_INTEGRITY_KEY_PASSPHRASE', 'AUDIT_INTEGRITY_ORIGIN', 'AUDIT_INTEGRITY_CHECKPOINT_MINUTES'],
  parse: (e) => {
    const key = env.string(e, 'AUDIT_INTEGRITY_KEY');
    if (key !== undefined) {
      try {
        privateKeyFrom(key);
      } catch {
        // Never echo the value: it is the signing key.
        throw new ConfigError('AUDIT_INTEGRITY_KEY', 'must be an Ed25519 PKCS8 PEM or a 32-byte seed (64 hex digits or base64)');
      }
    }
    const origin = env.string(e, 'AUDIT_INTEGRITY_ORIGIN', 'homepot-audit') as string;
    if (!ORIGIN_RE.test(origin)) throw new ConfigError('AUDIT_INTEGRITY_ORIGIN', 'must be a schema-less URL without spaces or +');
    return {
      /** The signing key; unset: generated on first start and kept in the configuration store, encrypted. */
      key,
      /** Encrypts the generated key; unset: a random passphrase in AUDIT_DATA_DIR/integrity/ (embedded). */
      keyPassphrase: env.string(e, 'AUDIT_INTEGRITY_KEY_PASSPHRASE'),
      /** Checkpoint origins are `<origin>/<tenant>`; the key name is the origin itself. */
      origin,
      checkpointMinutes: env.int(e, 'AUDIT_INTEGRITY_CHECKPOINT_MINUTES', 60, 1, 1440),
    };
  },
});

export type IntegrityConfig = ReturnType<typeof INTEGRITY_CONFIG.parse>;
