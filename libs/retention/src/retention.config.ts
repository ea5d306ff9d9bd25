import { ConfigError, defineConfigSection, env } from '@app/common';

/** The retention capability's settings (parsed where it runs: the all-in-one and the retention service). */
export const RETENTION_CONFIG = defineConfigSection({
  name: 'retention',
  variables: [
    'AUDIT_RETENTION_CHANGE_DELAY_HOURS',
    'AUDIT_RETENTION_INTERVAL_MINUTES',
    'AUDIT_ARCHIVE_RECIPIENTS',
    'AUDIT_ARCHIVE_IDENTITY',
    'AUDIT_RETENTION_NOW',
    'AUDIT_RETENTION_JOB_LEASE_SECONDS',
    'AUDIT_RETENTION_BATCH_SIZE',
    'AUDIT_RETENTION_STORAGE_RETRY_SECONDS',
    'AUDIT_RETENTION_TEST_PAUSE_MS',
  ],
  parse: (e) => {
    const recipients = env.list(e, 'AUDIT_ARCHIVE_RECIPIENTS');
    for (const r of recipients) {
      // age X25519 recipients are Bech32 'age1…'; the service holds no private key, only these.
      if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r))
        throw new ConfigError('AUDIT_ARCHIVE_RECIPIENTS', 'must list age recipients (age1…), comma-separated');
    }
    const identity = env.string(e, 'AUDIT_ARCHIVE_IDENTITY');
    if (identity !== undefined && !/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/.test(identity)) {
      throw new ConfigError('AUDIT_ARCHIVE_IDENTITY', 'must be an age identity (AGE-SECRET-KEY-1…)');
    }
    const nowText = env.string(e, 'AUDIT_RETENTION_NOW');
    const fixedNow = nowText === undefined ? undefined : Date.parse(nowText);
    if (fixedNow !== undefined && (Number.isNaN(fixedNow) || !/^\d{4}-\d{2}-\d{2}T.*Z$/.test(nowText as string))) {
      throw new ConfigError('AUDIT_RETENTION_NOW', 'must be an ISO 8601 UTC timestamp (tests only)');
    }
    return {
      /** A change that would archive or delete data now waits this long (cancellable); 0: applied at once, still audited. */
      changeDelayHours: env.int(e, 'AUDIT_RETENTION_CHANGE_DELAY_HOURS', 24, 0, 24 * 30),
      /** How often the scheduled run looks at every tenant's policy (and applies changes whose delay passed). */
      intervalMinutes: env.int(e, 'AUDIT_RETENTION_INTERVAL_MINUTES', 60, 1, 24 * 60),
      archiveRecipients: recipients,
      /** The age identity restore decrypts with when the request brings none; a secret (unset: restore needs it in the body). */
      archiveIdentity: identity,
      /** Tests only: the retention clock, fixed at this instant, so policies can be exercised on old data. */
      now: (): Date => (fixedNow === undefined ? new Date() : new Date(fixedNow)),
      fixedClock: fixedNow !== undefined,
      /** A job's lease: renewed while it works; a job whose process died is taken up again once it runs out. */
      jobLeaseMs: env.int(e, 'AUDIT_RETENTION_JOB_LEASE_SECONDS', 30, 1, 3600) * 1000,
      /** Events per restore write (through ingest). */
      batchSize: env.int(e, 'AUDIT_RETENTION_BATCH_SIZE', 1000, 1, 50_000),
      /** While the object store fails, a job waits this long before it tries again (it keeps its lease). */
      storageRetryMs: env.int(e, 'AUDIT_RETENTION_STORAGE_RETRY_SECONDS', 30, 1, 3600) * 1000,
      /** Tests only: a pause after each batch (archive day, restore write, deleted day), so a test can kill a job mid-run. */
      testPauseMs: env.int(e, 'AUDIT_RETENTION_TEST_PAUSE_MS', 0, 0, 60_000),
    };
  },
});

export type RetentionSettings = ReturnType<typeof RETENTION_CONFIG.parse>;
