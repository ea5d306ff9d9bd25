import { defineConfigSection, env, parseSecretsKey } from '@app/common';

/** The SIEM forwarder's own settings. */
export const SIEM_CONFIG = defineConfigSection({
  name: 'siem',
  variables: ['AUDIT_SIEM_FAILURE_THRESHOLD', 'AUDIT_SIEM_CONNECT_TIMEOUT_MS', 'AUDIT_SECRETS_KEY'],
  parse: (e) => ({
    failureThreshold: env.int(e, 'AUDIT_SIEM_FAILURE_THRESHOLD', 5, 1, 1_000_000),
    connectTimeoutMs: env.int(e, 'AUDIT_SIEM_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000),
    /** Seals client keys and tokens at rest (shared with alerting); unset: a key file in AUDIT_DATA_DIR. */
    secretsKey: parseSecretsKey(env.string(e, 'AUDIT_SECRETS_KEY')),
  }),
});
