import { defineConfigSection, env, parseSecretsKey } from '@app/common';

/** The SIEM forwarder's own settings. */
export const SIEM_CONFIG = defineConfigSection({
  name: 'siem',
  variables: ['AUDIT_SIEM_FAILURE_THRESHOLD', 'AUDIT_SIEM_CONNECT_TIMEOUT_MS', 'AUDIT_SECRETS_KEY', 'AUDIT_SIEM_LAG_WARN_PERCENT'],
  parse: (e) => ({
    failureThreshold: env.int(e, 'AUDIT_SIEM_FAILURE_THRESHOLD', 5, 1, 1_000_000),
    connectTimeoutMs: env.int(e, 'AUDIT_SIEM_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000),
    /** The share of the log's hot window an integration's oldest waiting event may use before it is warned about. */
    lagWarnPercent: env.int(e, 'AUDIT_SIEM_LAG_WARN_PERCENT', 50, 1, 99),
    /** Seals client keys and tokens at rest (shared with alerting); unset: a key file in AUDIT_DATA_DIR. */
    secretsKey: parseSecretsKey(env.string(e, 'AUDIT_SECRETS_KEY')),
  }),
});
