import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ALERTING_MIGRATIONS, AlertingStore, NotificationStore } from '@app/alerting';
import { scratchDatabase } from './support/postgres';

describe('the notification outbox on Postgres: finished deliveries are pruned after AUDIT_NOTIFICATION_HISTORY_DAYS', () => {
  let db: Awaited<ReturnType<typeof scratchDatabase>>;
  let ds: DataSource;
  let notes: NotificationStore;

  beforeAll(async () => {
    db = await scratchDatabase('audit_outbox', { entities: [], migrations: ALERTING_MIGRATIONS });
    ds = db.ds;
    notes = new AlertingStore(ds).notificationStore();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('given old and recent deliveries in each status, then only the finished ones last attempted before the horizon go', async () => {
    const channelId = randomUUID();
    await notes.insertChannel({
      id: channelId,
      tenantId: 'acme',
      owner: 'report-schedule',
      webhook: 'https://example.test/hook',
      webhookSecret: null,
      email: [],
    });
    const rows: Array<[string, string, number]> = [
      ['old-delivered', 'delivered', 40],
      ['old-failed', 'failed', 31],
      ['old-gone', 'gone', 90],
      ['old-pending', 'pending', 400],
      ['recent-delivered', 'delivered', 29],
      ['recent-failed', 'failed', 0],
    ];
    for (const [id, status, daysAgo] of rows) {
      await notes.enqueue({
        id,
        channel: 'webhook',
        channelId,
        tenantId: 'acme',
        target: 'https://example.test/hook',
        subject: id,
        body: id,
        payload: { id },
      });
      await ds.query(`UPDATE alert_notifications SET status = $2, updated_at = now() - make_interval(days => $3) WHERE id = $1`, [
        id,
        status,
        daysAgo,
      ]);
    }

    expect(await notes.pruneFinished(30)).toBe(3);
    const left: Array<{ id: string }> = await ds.query('SELECT id FROM alert_notifications ORDER BY id');
    expect(left.map((r) => r.id)).toEqual(['old-pending', 'recent-delivered', 'recent-failed']);
    // Nothing more is due, and a shorter horizon takes the recent finished ones too, never the pending one.
    expect(await notes.pruneFinished(30)).toBe(0);
    expect(await notes.pruneFinished(1)).toBe(1);
    expect(await notes.pruneFinished(1)).toBe(0);
    expect((await notes.notifications('acme', 'old-pending')).map((n) => n.status)).toEqual(['pending']);
  });
});
