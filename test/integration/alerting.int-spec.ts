import { SmtpSink } from '../e2e/support/smtp-sink';
import { Receiver } from '../e2e/support/webhook-receiver';
import { newRunId, postEvents, request } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';

/** Polls until `check` gives a value, or fails after `timeoutMs`. */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const receiver = new Receiver();
const smtp = new SmtpSink();
const mails = smtp.mails;
const alertingEnv: Record<string, string> = { AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8,localhost' };

describe('distributed deployment: the alerting service behind the gateway, on Kafka and Postgres', () => {
  beforeAll(async () => {
    await receiver.start();
    await smtp.start();
    alertingEnv.AUDIT_SMTP_URL = smtp.url;
  });
  const suite = useClusterSuite({ name: 'alerting', alertingEnv });
  afterAll(async () => {
    await receiver.close();
    await smtp.close();
  });

  it('should create a rule through the gateway, fire once on the threshold with a signed webhook and an e-mail, and list the firing', async () => {
    const gw = suite.cluster.gatewayUrl();
    const runId = newRunId('alerting');
    const created = await request<{ id: string; webhook_secret: string }>(`${gw}/audit/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        alert_name: runId,
        event_types: ['login_failed'],
        filter: { 'metadata.run_id': runId },
        threshold: 3,
        time_window: 60,
        notification: { email: 'soc@example.com', webhook: receiver.url },
      }),
    });
    expect(created.status).toBe(201);
    receiver.secret = created.body.webhook_secret;
    const bad = await request<{ error: { details: Array<{ field: string }> } }>(`${gw}/audit/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ alert_name: `${runId}-bad`, event_types: ['login_failed'], threshold: 0, time_window: 60 }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('threshold');

    const events = Array.from({ length: 3 }, () => ({ event_type: 'login_failed', metadata: { run_id: runId } }));
    expect((await postEvents(gw, events)).status).toBe(201);
    const hook = await eventually(async () => receiver.received[0], 30_000, 'the webhook');
    expect(hook.verified).toBe(true);
    await eventually(async () => (mails.some((m) => m.to.includes('soc@example.com')) ? true : undefined), 30_000, 'the e-mail');

    expect((await postEvents(gw, events)).status).toBe(201);
    await new Promise((r) => setTimeout(r, 3000));
    expect(receiver.received).toHaveLength(1);

    const firings = await request<{ firings: Array<{ event_ids: string[]; deliveries: Array<{ status: string }> }> }>(
      `${gw}/audit/alerts/${created.body.id}/firings`,
    );
    expect(firings.status).toBe(200);
    expect(firings.body.firings).toHaveLength(1);
    expect(firings.body.firings[0].event_ids).toHaveLength(3);
    const triggered = await eventually(
      async () => {
        const r = await request<{ total: number }>(`${gw}/audit/events?event_type=alert_triggered&metadata.rule_id=${created.body.id}`);
        return r.body.total === 1 ? r : undefined;
      },
      30_000,
      'the alert_triggered event',
    );
    expect(triggered.body.total).toBe(1);
  }, 120_000);
});
