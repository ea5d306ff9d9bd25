import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { bootApp, http, Json, TestApp, waitForTotal } from './support/embedded-app';

/** curl copes with a server that answers 413 before it has read the whole upload; fetch reports EPIPE. */
async function curlPost(url: string, body: string): Promise<Json> {
  const file = path.join(tmpdir(), `big-${process.pid}.json`);
  writeFileSync(file, body);
  const { stdout } = await promisify(execFile)('curl', [
    '-s',
    '-w',
    '\n%{http_code}',
    '-H',
    'content-type: application/json',
    '--data-binary',
    `@${file}`,
    `${url}/audit/events`,
  ]);
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), headers: new Headers(), body: JSON.parse(stdout.slice(0, i)) };
}

describe('POST /audit/events', () => {
  let app: TestApp;
  const post = (body: unknown, headers: Record<string, string> = {}): ReturnType<typeof http> =>
    http(`${app.url}/audit/events`, { method: 'POST', json: body, headers });

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should accept one event, fill server fields from the request and the catalogue, and return it', async () => {
    const res = await post(
      { event_type: 'device_offline', metadata: { device_id: 'D1' } },
      { 'user-agent': 'pos-agent/1.2', 'x-session-id': 'sess_1' },
    );
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/audit/events/${res.body.id}`);
    expect(res.body).toMatchObject({
      event_type: 'device_offline',
      category: 'device_management',
      severity: 'warning',
      ip_address: '127.0.0.1',
      user_agent: 'pos-agent/1.2',
      session_id: 'sess_1',
      status: 'accepted',
    });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    const stored = await waitForTotal(app.url, 'event_type=device_offline', 1);
    expect(stored.body.events[0].id).toBe(res.body.id);
  });

  it('should accept a JSON array batch and an NDJSON batch with a result per event', async () => {
    const batch = Array.from({ length: 1000 }, (_, i) => ({ event_type: 'job_progress', metadata: { job_id: `j${i}`, batch: 'array' } }));
    const res = await post(batch);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ accepted: 1000, rejected: 0, duplicates: 0 });
    expect(new Set(res.body.results.map((r: { id: string }) => r.id)).size).toBe(1000);

    const ndjson = Array.from({ length: 3 }, (_, i) =>
      JSON.stringify({ event_type: 'job_progress', metadata: { n: i, batch: 'nd' } }),
    ).join('\n');
    const nd = await http(`${app.url}/audit/events`, {
      method: 'POST',
      body: `${ndjson}\n`,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(nd.status).toBe(201);
    expect(nd.body).toMatchObject({ accepted: 3, format: 'ndjson' });
    await waitForTotal(app.url, 'event_type=job_progress&metadata.batch=array', 1000);
    await waitForTotal(app.url, 'event_type=job_progress&metadata.batch=nd', 3);
  });

  it('should store the valid events of a mixed batch, answer 207 and name each problem', async () => {
    const res = await post([
      { event_type: 'site_created', metadata: { mixed: 'yes' } },
      { event_type: 'site_created', severity: 'loud' },
      { event_type: 'custom_thing' },
      { event_type: 'site_created', timestamp: 'yesterday' },
    ]);
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(1);
    expect(res.body.results[1]).toMatchObject({ status: 'rejected', errors: [{ field: '/severity' }] });
    expect(res.body.results[2].errors[0]).toMatchObject({ field: '/category' });
    expect(res.body.results[2].errors[0].message).toContain('not in the catalogue');
    expect(res.body.results[3].errors[0]).toMatchObject({ field: '/timestamp' });
    await waitForTotal(app.url, 'event_type=site_created', 1);
  });

  it('should make retries with an idempotency key harmless', async () => {
    const body = { event_type: 'transaction_processed', category: 'business', metadata: { txn: 'A1' } };
    const first = await post(body, { 'idempotency-key': 'txn-A1' });
    const again = await post(body, { 'idempotency-key': 'txn-A1' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual({ id: first.body.id, status: 'duplicate' });
    const reused = await post({ ...body, metadata: { txn: 'B2' } }, { 'idempotency-key': 'txn-A1' });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    const field = await post({ ...body, idempotency_key: 'field-key-1' });
    const fieldAgain = await post({ ...body, idempotency_key: 'field-key-1' });
    expect(fieldAgain.body.id).toBe(field.body.id);
    const stored = await waitForTotal(app.url, 'category=business_events', 2);
    expect(stored.body.events.map((e: { id: string }) => e.id).sort()).toEqual([first.body.id, field.body.id].sort());
  });

  it('should store an event once when a request that chose its own id is sent again later', async () => {
    const id = '0190f0f0-0000-7000-8000-00000000e2e1';
    const body = { id, event_type: 'job_created', metadata: { job_id: 'own-id-retry' } };
    expect((await post(body)).status).toBe(201);
    await waitForTotal(app.url, 'metadata.job_id=own-id-retry', 1);
    // No timestamp: the retry carries another event time, so only a check by id finds the stored copy.
    expect((await post(body)).status).toBe(201);
    expect((await post({ event_type: 'job_created', metadata: { job_id: 'own-id-marker' } })).status).toBe(201);
    await waitForTotal(app.url, 'metadata.job_id=own-id-marker', 1);
    const stored = await http(`${app.url}/audit/events?metadata.job_id=own-id-retry`);
    expect(stored.body.total).toBe(1);
    expect(stored.body.events.map((e: { id: string }) => e.id)).toEqual([id]);
  });

  const bad: Array<[string, () => Promise<Awaited<ReturnType<typeof http>>>, number, string, RegExp]> = [
    [
      'malformed JSON',
      () => http(`${app.url}/audit/events`, { method: 'POST', body: '{"event_type": ', headers: { 'content-type': 'application/json' } }),
      400,
      'invalid_json',
      /not valid JSON/,
    ],
    [
      'an empty body',
      () => http(`${app.url}/audit/events`, { method: 'POST', body: '', headers: { 'content-type': 'application/json' } }),
      400,
      'invalid_json',
      /empty/,
    ],
    [
      'a form body',
      () =>
        http(`${app.url}/audit/events`, { method: 'POST', body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
      'unsupported_media_type',
      /Content-Type/,
    ],
    ['a missing event_type', () => post({ description: 'x' }), 400, 'validation_failed', /event_type: is required/],
    ['an unknown field', () => post({ event_type: 'login_success', colour: 'red' }), 400, 'validation_failed', /unknown field 'colour'/],
    ['a bad event type name', () => post({ event_type: 'Drop Table' }), 400, 'validation_failed', /event_type: must match/],
    [
      'an oversized description',
      () => post({ event_type: 'login_success', description: 'x'.repeat(9000) }),
      400,
      'validation_failed',
      /description/,
    ],
    [
      'too-deep metadata',
      () => post({ event_type: 'login_success', metadata: { a: { b: { c: { d: { e: { f: 1 } } } } } } }),
      400,
      'validation_failed',
      /deeper than 5/,
    ],
    [
      'too-large metadata',
      () =>
        post({
          event_type: 'login_success',
          metadata: Object.fromEntries(Array.from({ length: 90 }, (_, i) => [`k${i}`, 'v'.repeat(500)])),
        }),
      400,
      'validation_failed',
      /at most 32768 bytes/,
    ],
    [
      'a bad metadata key',
      () => post({ event_type: 'login_success', metadata: { "x'; DROP": 1 } }),
      400,
      'validation_failed',
      /metadata key/,
    ],
    [
      'a bad timestamp',
      () => post({ event_type: 'login_success', timestamp: '2025-13-45T00:00:00Z' }),
      400,
      'validation_failed',
      /timestamp: must be an ISO 8601/,
    ],
    [
      'a timestamp far in the future',
      () => post({ event_type: 'login_success', timestamp: '2999-01-01T00:00:00Z' }),
      400,
      'validation_failed',
      /ahead of the server clock/,
    ],
    ['a bad ip address', () => post({ event_type: 'login_success', ip_address: '999.1.1.1' }), 400, 'validation_failed', /ip_address/],
    [
      'a bad idempotency key header',
      () => post({ event_type: 'login_success' }, { 'idempotency-key': 'has spaces' }),
      400,
      'validation_failed',
      /Idempotency-Key/,
    ],
    ['a scalar body', () => post(42), 400, 'validation_failed', /object, an array of events, or NDJSON/],
    ['an empty batch', () => post([]), 400, 'validation_failed', /empty/],
    [
      'a batch over 5000 events',
      () => post(Array.from({ length: 5001 }, () => ({ event_type: 'login_success' }))),
      413,
      'batch_too_large',
      /at most 5000/,
    ],
    [
      'a body over the size limit',
      () => curlPost(app.url, JSON.stringify({ event_type: 'login_success', description: 'x'.repeat(6 * 1024 * 1024) })),
      413,
      'payload_too_large',
      /larger than the limit/,
    ],
    [
      'an invalid NDJSON line',
      () =>
        http(`${app.url}/audit/events`, {
          method: 'POST',
          body: '{"event_type":"login_success"}\n{oops}\n',
          headers: { 'content-type': 'application/x-ndjson' },
        }),
      400,
      'invalid_json',
      /line 2/,
    ],
  ];

  it.each(bad)('should refuse %s with a 4xx that names the problem, storing nothing', async (_name, send, status, code, message) => {
    const before = await http(`${app.url}/audit/statistics`);
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    expect(Array.isArray(res.body.error.details)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    const after = await http(`${app.url}/audit/statistics`);
    expect(after.body.events_by_category.security_events ?? 0).toBe(before.body.events_by_category.security_events ?? 0);
  });

  it('should accept the guide JSON bodies that carry // comments', async () => {
    const res = await http(`${app.url}/audit/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{\n"event_type": "backup_completed", // nightly\n"description": "http://backup/ok"\n}',
    });
    expect(res.status).toBe(201);
    expect(res.body.description).toBe('http://backup/ok');
  });
});
