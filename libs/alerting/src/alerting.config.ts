import { defineConfigSection, env, parseSecretsKey } from '@app/common';

/** The alerting capability's own settings (parsed only where it runs: the all-in-one and the alerting service). */
export const ALERTING_CONFIG = defineConfigSection({
  name: 'alerting',
  variables: ['AUDIT_SMTP_URL', 'AUDIT_SMTP_FROM', 'AUDIT_SECRETS_KEY', 'AUDIT_NOTIFICATION_HISTORY_DAYS'],
  parse: (e) => {
    // One reader for the key alerting and the SIEM integrations share (base64 or hex of 32 bytes).
    const key = parseSecretsKey(env.string(e, 'AUDIT_SECRETS_KEY'));
    return {
      /** smtp://[user:pass@]host:port or smtps://...; unset: rules with e-mail are accepted, e-mail is not sent. */
      smtpUrl: env.url(e, 'AUDIT_SMTP_URL', ['smtp:', 'smtps:']),
      smtpFrom: env.string(e, 'AUDIT_SMTP_FROM', 'HOMEPOT Audit <audit@localhost>') as string,
      /** Encrypts webhook secrets at rest; unset: a key generated once in AUDIT_DATA_DIR/alerting-secrets.key. */
      secretsKey: key,
      /**
       * Finished notification deliveries (delivered, failed, gone) are kept this long in the outbox, then
       * deleted: every attempt is also an audit event (notification_sent / notification_failed), which the
       * retention policy governs.
       */
      notificationHistoryDays: env.int(e, 'AUDIT_NOTIFICATION_HISTORY_DAYS', 30, 1, 3650),
    };
  },
});

export type AlertingSettings = ReturnType<typeof ALERTING_CONFIG.parse>;
