import { createHash } from 'node:crypto';
import { Receiver } from '../e2e/support/webhook-receiver';
import { newRunId, postEvents, request, waitForTotal } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';

interface Schedule {
  id: string;
  next_run_at: string | null;
  webhook_secret?: string;
  runs: Array<{ slot: string; state: string; job_id: string | null }>;
}

/**
 * Scheduled reports in the distributed mode: the schedule is created through the gateway, apps/reporting ticks
 * on its own (its clock started 75 s before midnight UTC, AUDIT_REPORT_SCHEDULE_CLOCK_START), claims the
 * slot in the real Postgres (report_schedule_runs), runs the report against the query-store over TCP, and
 * hands the result to apps/alerting, whose delivery worker signs and sends the webhook.
 */
describe('report schedules (distributed)', () => {
  const receiver = new Receiver();
  const runId = newRunId('schedules');
  const created: string[] = [];
  const suite = useClusterSuite(
    {
      name: 'report-schedules',
      reportingEnv: { AUDIT_REPORT_SCHEDULE_CLOCK_START: '2026-01-01T23:58:45Z', AUDIT_REPORT_SCHEDULE_TICK_MS: '250' },
      alertingEnv: { AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8,localhost' },
    },
    {
      // The table is shared with later runs: leave no schedule that would fire again.
      beforeStop: async () => {
        for (const id of created) await request(`${gw()}/audit/reports/schedules/${id}`, { method: 'DELETE' });
      },
    },
  );
  const gw = (): string => suite.cluster.gatewayUrl();
  const events = Array.from({ length: 7 }, (_, i) => ({
    event_type: i % 2 ? 'login_failed' : 'user_login',
    description: 'scheduled',
    metadata: { run_id: runId, user_id: `u${i}` },
    timestamp: `2026-01-01T1${i}:00:00.000000Z`,
  }));
  const outside = { ...events[0], timestamp: '2025-12-31T12:00:00.000000Z' };

  beforeAll(async () => {
    await receiver.start();
  });

  afterAll(async () => {
    await receiver.close();
  });

  it('should run a daily schedule once for its slot in apps/reporting and deliver it through apps/alerting', async () => {
    const r = await postEvents(gw(), [...events, outside]);
    expect(r.status).toBe(201);
    expect(await waitForTotal(gw(), runId, events.length + 1, 60_000)).toBe(events.length + 1);

    const schedule = await request<Schedule>(`${gw()}/audit/reports/schedules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `daily activity ${runId}`,
        frequency: 'daily',
        time: '00:00',
        report: { report_type: 'activity', format: 'json', 'metadata.run_id': runId },
        delivery: { webhook: receiver.url },
      }),
    });
    expect(schedule.status).toBe(201);
    created.push(schedule.body.id);
    // Created before the injected clock reached midnight, or the slot is a day later and this test cannot see it.
    expect(schedule.body.next_run_at).toBe('2026-01-02T00:00:00.000Z');
    receiver.secret = schedule.body.webhook_secret ?? '';

    const deadline = Date.now() + 150_000;
    while (receiver.received.length === 0) {
      if (Date.now() > deadline) throw new Error(`no webhook from the scheduled run\n${suite.cluster.logs()}`);
      await new Promise((res) => setTimeout(res, 250));
    }
    const delivered = receiver.received[0];
    expect(delivered.verified).toBe(true);
    const payload = JSON.parse(delivered.body) as {
      type: string;
      data: { schedule_id: string; slot: string; job_id: string; rows: number; download_url: string; file: { sha256: string } };
    };
    expect(payload).toMatchObject({
      type: 'report.generated',
      data: { schedule_id: schedule.body.id, slot: '2026-01-02T00:00:00.000Z', rows: events.length },
    });
    expect(delivered.headers['webhook-id']).toBe(`msg_${payload.data.job_id}`);

    // The file is the day's report, served by apps/reporting through the gateway.
    const file = await fetch(`${gw()}${payload.data.download_url}`);
    expect(file.status).toBe(200);
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(payload.data.file.sha256);
    const report = JSON.parse(bytes.toString('utf8')) as { report_type: string; period: { start: string; end: string } };
    expect(report.report_type).toBe('activity');
    expect(report.period.start.startsWith('2026-01-01T00:00:00')).toBe(true);
    expect(report.period.end.startsWith('2026-01-01T23:59:59')).toBe(true);

    // Many more ticks in the same slot: the run stays one, delivered once.
    await new Promise((res) => setTimeout(res, 2000));
    const after = await request<Schedule>(`${gw()}/audit/reports/schedules/${schedule.body.id}`);
    expect(after.body.runs).toEqual([
      expect.objectContaining({ slot: '2026-01-02T00:00:00.000Z', state: 'notified', job_id: payload.data.job_id }),
    ]);
    expect(after.body.next_run_at).toBe('2026-01-03T00:00:00.000Z');
    expect(receiver.received).toHaveLength(1);
  }, 240_000);
});
