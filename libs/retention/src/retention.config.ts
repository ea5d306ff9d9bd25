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
    };
  },
});

export type RetentionSettings = ReturnType<typeof RETENTION_CONFIG.parse>;
