import { bootApp, eventually, http, TestApp, waitForTotal } from './support/embedded-app';
import { SmtpSink } from './support/smtp-sink';
import { Receiver } from './support/webhook-receiver';

/**
 * Scheduled reports on the embedded app with its scheduler clock started just before midnight UTC
 * (AUDIT_REPORT_SCHEDULE_CLOCK_START), ticking every 200 ms: a daily schedule fires at 00:00 for the day
 * before, once for the slot however many ticks fall in it, and its result reaches a real webhook receiver
 * (signature checked) and a real SMTP server.
 */
describe('report schedules (embedded, injected clock)', () => {
  let app: TestApp;
  const receiver = new Receiver();
  const smtp = new SmtpSink();
  const mails = smtp.mails;
  const inPeriod = Array.from({ length: 5 }, (_, i) => ({
    event_type: 'login_failed',
    description: 'bad password',
    metadata: { user_id: `u${i}` },
    timestamp: `2026-01-01T1${i}:00:00.000000Z`,
  }));
  const outside = Array.from({ length: 3 }, () => ({
    event_type: 'login_failed',
    description: 'bad password',
    metadata: { user_id: 'x' },
    timestamp: '2025-12-31T12:00:00.000000Z',
  }));

  beforeAll(async () => {
    await receiver.start();
    await smtp.start();
    app = await bootApp({
      AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8,localhost',
      AUDIT_SMTP_URL: smtp.url,
      AUDIT_SELF_AUDIT_READS: 'false',
      AUDIT_REPORT_SCHEDULE_CLOCK_START: '2026-01-01T23:59:40Z',
      AUDIT_REPORT_SCHEDULE_TICK_MS: '200',
    });
    const r = await http(`${app.url}/audit/events`, { method: 'POST', json: [...inPeriod, ...outside] });
    expect(r.status).toBe(201);
    await waitForTotal(app.url, 'start=2025-12-31&end=2026-01-01', 8, 30_000);
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await receiver.close();
    await smtp.close();
  });

  it('given a bad schedule, then a 400 naming each field', async () => {
    const r = await http(`${app.url}/audit/reports/schedules`, {
      method: 'POST',
      json: { name: 'x', frequency: 'hourly', report: { report_type: 'compliance', period: { start: '2026-01-01', end: '2026-01-02' } } },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['frequency', 'report.period']);
  });

  it('given a daily schedule at 00:00 with a webhook and e-mail, then one run for the slot, delivered to both, and a paused one does not run', async () => {
    const created = await http(`${app.url}/audit/reports/schedules`, {
      method: 'POST',
      json: {
        name: 'daily activity',
        frequency: 'daily',
        time: '00:00',
        report: { report_type: 'activity', format: 'json' },
        delivery: { webhook: receiver.url, email: ['auditor@example.com'] },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.webhook_secret).toMatch(/^whsec_/);
    expect(created.body.next_run_at).toBe('2026-01-02T00:00:00.000Z');
    expect(created.body.next_period).toEqual({ start: '2026-01-01', end: '2026-01-01' });
    receiver.secret = created.body.webhook_secret as string;
    const paused = await http(`${app.url}/audit/reports/schedules`, {
      method: 'POST',
      json: { name: 'paused', frequency: 'daily', report: { report_type: 'security' }, paused: true },
    });
    expect(paused.status).toBe(201);

    const delivered = await eventually(
      async () => (receiver.received.length > 0 ? receiver.received[0] : undefined),
      60_000,
      'the webhook',
    );
    expect(delivered.verified).toBe(true);
    const payload = JSON.parse(delivered.body);
    expect(payload.type).toBe('report.generated');
    expect(payload.data.schedule_id).toBe(created.body.id);
    expect(payload.data.slot).toBe('2026-01-02T00:00:00.000Z');
    expect(payload.data.rows).toBe(inPeriod.length);
    expect(delivered.headers['webhook-id']).toBe(`msg_${payload.data.job_id}`);

    const file = await fetch(`${app.url}${payload.data.download_url}`);
    expect(file.status).toBe(200);
    const report = (await file.json()) as { period: { start: string; end: string } };
    expect(report.period.start.startsWith('2026-01-01T00:00:00')).toBe(true);
    expect(report.period.end.startsWith('2026-01-01T23:59:59')).toBe(true);

    const mail = await eventually(async () => (mails.length > 0 ? mails[0] : undefined), 30_000, 'the e-mail');
    expect(mail.to).toEqual(['auditor@example.com']);
    expect(mail.data).toMatch(/Subject: Scheduled report: daily activity/);
    // quoted-printable: soft line breaks removed before looking for the hash.
    expect(mail.data.replace(/=\r?\n/g, '')).toContain(payload.data.file.sha256);

    // Many more ticks inside the same slot: still one run, one webhook, one e-mail.
    await new Promise((r) => setTimeout(r, 2000));
    const s = await http(`${app.url}/audit/reports/schedules/${created.body.id as string}`);
    expect(s.body.runs).toEqual([
      expect.objectContaining({ slot: '2026-01-02T00:00:00.000Z', state: 'notified', job_id: payload.data.job_id }),
    ]);
    expect(s.body.next_run_at).toBe('2026-01-03T00:00:00.000Z');
    expect(receiver.received).toHaveLength(1);
    expect(mails).toHaveLength(1);
    const p = await http(`${app.url}/audit/reports/schedules/${paused.body.id as string}`);
    expect(p.body.runs).toEqual([]);
    expect(p.body.next_run_at).toBeNull();

    const resumed = await http(`${app.url}/audit/reports/schedules/${paused.body.id as string}/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    expect(resumed.body.next_run_at).toBe('2026-01-03T00:00:00.000Z');
    const paused2 = await http(`${app.url}/audit/reports/schedules/${created.body.id as string}/pause`, { method: 'POST' });
    expect(paused2.body).toMatchObject({ paused: true, next_run_at: null });
    const put = await http(`${app.url}/audit/reports/schedules/${created.body.id as string}`, {
      method: 'PUT',
      json: {
        name: 'monthly activity',
        frequency: 'monthly',
        day_of_month: 2,
        report: { report_type: 'activity' },
        delivery: { webhook: receiver.url },
      },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      name: 'monthly activity',
      frequency: 'monthly',
      day_of_month: 2,
      paused: false,
      next_run_at: '2026-02-02T00:00:00.000Z',
    });
    // The delivery changed: a new channel, with a new secret shown once.
    expect(put.body.webhook_secret).toMatch(/^whsec_/);
    expect(put.body.webhook_secret).not.toBe(created.body.webhook_secret);
    const list = await http(`${app.url}/audit/reports/schedules`);
    expect(list.body.total).toBe(2);
    const del = await http(`${app.url}/audit/reports/schedules/${paused.body.id as string}`, { method: 'DELETE' });
    expect(del.body).toEqual({ id: paused.body.id, deleted: true });
    expect((await http(`${app.url}/audit/reports/schedules/${paused.body.id as string}`)).status).toBe(404);
    const audit = await waitForTotal(
      app.url,
      'event_type=report_schedule_created,report_schedule_resumed,report_schedule_deleted,report_schedule_paused,report_schedule_updated',
      6,
    );
    expect(audit.body.total).toBe(6);
  }, 120_000);
});

/**
 * A schedule runs on its owner's API key: revoking the key pauses it (with the reason and an audit event),
 * and resuming it with another key makes that key its owner.
 */
describe('report schedules whose owner key is revoked (embedded)', () => {
  const ADMIN_KEY = 'bootstrap-admin-key-for-e2e-0123456789';
  let app: TestApp;
  const as = (key: string, path: string, init: Parameters<typeof http>[1] = {}): ReturnType<typeof http> =>
    http(`${app.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    app = await bootApp({
      AUDIT_BOOTSTRAP_API_KEY: ADMIN_KEY,
      AUDIT_ALLOW_ANONYMOUS_LOOPBACK: 'false',
      AUDIT_REPORT_SCHEDULE_TICK_MS: '200',
    });
  }, 90_000);

  afterAll(async () => {
    await app?.close();
  });

  it('given the key that created a schedule is revoked, then the schedule is paused and audited, and resuming re-owns it', async () => {
    const key = await as(ADMIN_KEY, '/audit/api-keys', { method: 'POST', json: { name: 'reports-bot', scopes: ['events:read'] } });
    expect(key.status).toBe(201);
    const created = await as(key.body.key as string, '/audit/reports/schedules', {
      method: 'POST',
      json: { name: 'weekly security', frequency: 'weekly', report: { report_type: 'security' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ paused: false, created_by: 'reports-bot' });
    const id = created.body.id as string;

    expect((await as(ADMIN_KEY, `/audit/api-keys/${key.body.id as string}`, { method: 'DELETE' })).status).toBe(204);
    const paused = await eventually(
      async () => {
        const s = await as(ADMIN_KEY, `/audit/reports/schedules/${id}`);
        return s.body.paused === true ? s.body : undefined;
      },
      20_000,
      'the schedule paused',
    );
    expect(paused.paused_reason).toMatch(/API key that owns it was revoked/);
    expect(paused.next_run_at).toBeNull();
    const audited = await eventually(
      async () => {
        const r = await as(ADMIN_KEY, `/audit/events?event_type=report_schedule_paused&metadata.schedule_id=${id}`);
        return r.body.total === 1 ? r.body.events[0] : undefined;
      },
      20_000,
      'the report_schedule_paused event',
    );
    expect(audited.metadata).toMatchObject({ api_key: 'reports-bot' });

    const resumed = await as(ADMIN_KEY, `/audit/reports/schedules/${id}/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    expect(resumed.body.paused).toBe(false);
    expect(resumed.body.paused_reason).toBeUndefined();
    expect(resumed.body.created_by).not.toBe('reports-bot');
    // The new owner's key is not revoked: more ticks leave it running.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await as(ADMIN_KEY, `/audit/reports/schedules/${id}`)).body.paused).toBe(false);
  });
});
