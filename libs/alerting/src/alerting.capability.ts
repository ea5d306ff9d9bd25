import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { INGEST_PORT_DEFINITION, IngestPort } from '@app/ingest';
import { Capability, OUTBOUND_CONFIG } from '@app/runtime';
import { ALERTING_CONFIG } from './alerting.config';
import { AlertingController } from './alerting.controller';
import { ALERTING_MIGRATIONS } from './alerting.migrations';
import { ALERTING_PORT_DEFINITION } from './alerting.port';
import { AlertingService } from './alerting.service';
import { AlertingStore } from './alerting.store';
import { SecretBox } from './core/signing';
import { Mailer } from './delivery';

export const CONSUMER_GROUP_ALERTING = 'audit.alerting.v1';

/** AUDIT_SECRETS_KEY, else a key generated once beside the data (0600), so a restart can still sign. */
function secretsKey(configured: Buffer | undefined, dataDir: string): Buffer {
  if (configured) return configured;
  const file = path.join(dataDir, 'alerting-secrets.key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}

/**
 * Alert rules over the live log: its own consumer group (audit.alerting.v1) evaluates every enabled rule on each
 * batch, records firings with the rule state in the configuration store, and a delivery worker sends signed
 * webhooks and e-mail from there. Its audit events (rule changes, alert_triggered, notification attempts)
 * go through the ingest port.
 */
export const ALERTING_CAPABILITY: Capability = {
  name: 'alerting',
  migrations: ALERTING_MIGRATIONS,
  needs: { bus: true, configStore: true },
  config: [ALERTING_CONFIG, OUTBOUND_CONFIG],
  serves: [ALERTING_PORT_DEFINITION],
  controllers: [AlertingController],
  async start(context) {
    const settings = context.settings(ALERTING_CONFIG);
    const store = new AlertingStore(context.configStore());
    const mailer = new Mailer(settings.smtpUrl, settings.smtpFrom);
    let ingest: IngestPort | undefined;
    const service = new AlertingService(
      store,
      new SecretBox(secretsKey(settings.secretsKey, context.config.dataDir)),
      context.settings(OUTBOUND_CONFIG),
      mailer,
      // Resolved once, on first use (in the embedded app ingest is bound by then; elsewhere it is a TCP client).
      () => (ingest ??= context.port(INGEST_PORT_DEFINITION)),
      context.logger,
      undefined,
      settings.notificationHistoryDays,
    );
    const consumers = context.consumers();
    consumers.declare({ kind: 'events', group: CONSUMER_GROUP_ALERTING, handle: (events) => service.handle(events) });
    context.closers.add('alert-delivery', () => service.stop());
    return {
      bindings: [{ port: ALERTING_PORT_DEFINITION, implementation: service }],
      readiness: [{ name: 'alerting', required: false, check: () => service.health() }],
      describe: { email: mailer.available ? 'smtp' : 'unavailable (AUDIT_SMTP_URL unset)', consumer_group: CONSUMER_GROUP_ALERTING },
      afterStart: async () => {
        service.start();
        await consumers.start(CONSUMER_GROUP_ALERTING);
      },
    };
  },
};
