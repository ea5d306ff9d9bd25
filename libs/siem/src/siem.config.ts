import { defineConfigSection, env } from '@app/common';

/** The SIEM forwarder's own settings. */
export const SIEM_CONFIG = defineConfigSection({
  name: 'siem',
  variables: ['AUDIT_SIEM_FAILURE_THRESHOLD', 'AUDIT_SIEM_CONNECT_TIMEOUT_MS'],
  parse: (e) => ({
    failureThreshold: env.int(e, 'AUDIT_SIEM_FAILURE_THRESHOLD', 5, 1, 1_000_000),
    connectTimeoutMs: env.int(e, 'AUDIT_SIEM_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000),
  }),
});
