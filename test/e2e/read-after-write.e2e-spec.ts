import { randomUUID } from 'node:crypto';
import { bootApp, http, TestApp } from './support/embedded-app';

describe('read after write', () => {
  let app: TestApp;

  beforeAll(async () => {
    // A slow projection (a batch a second) makes the gap between the 201 and the store wide and certain.
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_BATCH_INTERVAL_MS: '1000' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should find an event by id right after its 201, with or without an idempotency key', async () => {
    for (let i = 0; i < 3; i++) {
      const posted = await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'job_started', metadata: { i } } });
      expect(posted.status).toBe(201);
      const read = await http(`${app.url}/audit/events/${posted.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body.metadata).toEqual({ i });
    }
    const keyed = await http(`${app.url}/audit/events`, {
      method: 'POST',
      headers: { 'idempotency-key': `raw-${Date.now()}` },
      json: { event_type: 'job_started', metadata: { keyed: true } },
    });
    expect(keyed.status).toBe(201);
    const read = await http(`${app.url}/audit/events/${keyed.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.metadata).toEqual({ keyed: true });
  });

  it('should still answer 404 for an id that was never written', async () => {
    const r = await http(`${app.url}/audit/events/${randomUUID()}`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });

  it('should search what was acknowledged before the request with wait_for_writes=true', async () => {
    const posted = await http(`${app.url}/audit/events`, {
      method: 'POST',
      json: [
        { event_type: 'user_created', metadata: { run: 'ryw' } },
        { event_type: 'user_created', metadata: { run: 'ryw' } },
      ],
    });
    expect(posted.status).toBe(201);
    const r = await http(`${app.url}/audit/events?event_type=user_created&wait_for_writes=true`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-read-after-write')).toBe('caught-up');
    expect(r.body.total).toBe(2);
    expect(r.body.next).toBeNull();
    const bad = await http(`${app.url}/audit/events?wait_for_writes=yes`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('wait_for_writes');
  });
});
