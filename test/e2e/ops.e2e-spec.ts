import { bootApp, http, TestApp } from './support/embedded-app';

describe('operations endpoints', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await bootApp();
  });

  afterAll(async () => {
    await app.close();
  });

  it('should report status per component', async () => {
    const r = await http(`${app.url}/audit/status`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      status: 'ok',
      mode: 'embedded',
      components: { event_log: { ok: true }, query_store: { ok: true }, config_store: { ok: true } },
    });
  });

  it('should show the effective configuration without secrets', async () => {
    const r = await http(`${app.url}/audit/config`);
    expect(r.body).toMatchObject({
      mode: 'embedded',
      limits: { max_batch_events: 5000, max_page_size: 1000 },
      authentication: { anonymous_on_loopback: true },
    });
    expect(JSON.stringify(r.body)).not.toMatch(/password|secret_hash/i);
  });

  it('should write a test event, read it back and report the round trip', async () => {
    const r = await http(`${app.url}/audit/test`, { method: 'POST', json: { test_event: true } });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
    expect(r.body.round_trip_ms).toBeGreaterThanOrEqual(r.body.write_ms);
    const stored = await http(`${app.url}/audit/events/${r.body.event_id}`);
    expect(stored.body).toMatchObject({ event_type: 'audit_test', metadata: { test_event: true } });
    expect((await http(`${app.url}/audit/test`, { method: 'POST', json: [1] })).status).toBe(400);
  });

  it('should serve probes, metrics and the OpenAPI document', async () => {
    expect((await http(`${app.url}/health/live`)).status).toBe(200);
    const ready = await http(`${app.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.query_store.ok).toBe(true);
    const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text());
    expect(metrics).toContain('audit_http_request_duration_seconds');
    expect(metrics).toContain('audit_consumer_rows_total');
    const doc = await http(`${app.url}/docs/openapi.json`);
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/audit/events', '/audit/events/stream', '/audit/statistics', '/audit/status', '/audit/test']),
    );
    expect(doc.body.components.schemas.AuditEventInput.required).toEqual(['event_type']);
  });

  it('should answer unknown routes with the error shape', async () => {
    const r = await http(`${app.url}/audit/nope`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});
