import { bootApp, eventually, http, Json, TestApp } from './support/embedded-app';

/** Polls a search until `ok`, and until its page agrees with its total (two queries; an insert can land between). */
const until = (read: () => Promise<Json>, ok: (r: Json) => boolean): Promise<Json> =>
  eventually(async () => {
    const r = await read();
    const agrees = r.status === 200 && r.body.events.length === Math.min(r.body.total, r.body.limit);
    return agrees && ok(r) ? r : undefined;
  });

const ADMIN_KEY = 'bootstrap-admin-key-for-e2e-0123456789';

describe('API keys and self-audit', () => {
  let app: TestApp;
  const as = (key: string | undefined, path: string, init: Parameters<typeof http>[1] = {}): ReturnType<typeof http> =>
    http(`${app.url}${path}`, {
      ...init,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string>) },
    });

  beforeAll(async () => {
    app = await bootApp({
      AUDIT_BOOTSTRAP_API_KEY: ADMIN_KEY,
      AUDIT_ALLOW_ANONYMOUS_LOOPBACK: 'false',
    });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should refuse a request without a key, and record it as unauthorized_access', async () => {
    const r = await as(undefined, '/audit/events');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(r.body.error.code).toBe('unauthorized');
    const bad = await as('hpa_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '/audit/events');
    expect(bad.status).toBe(401);
    const withKey = await until(
      () => as(ADMIN_KEY, '/audit/events?event_type=unauthorized_access'),
      (r) => r.body.total === 2,
    );
    expect(withKey.body.events[0]).toMatchObject({ category: 'security_events', severity: 'critical', ip_address: '127.0.0.1' });
  });

  it('should create scoped keys, deny a missing scope as permission_denied, and never show a secret twice', async () => {
    const created = await as(ADMIN_KEY, '/audit/api-keys', { method: 'POST', json: { name: 'dashboard', scopes: ['events:read'] } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^hpa_[a-z0-9]{12}_/);
    const reader = created.body.key as string;
    expect((await as(reader, '/audit/statistics')).status).toBe(200);
    const denied = await as(reader, '/audit/events', { method: 'POST', json: { event_type: 'login_success' } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain("'events:write'");
    const listed = await as(ADMIN_KEY, '/audit/api-keys');
    expect(JSON.stringify(listed.body)).not.toContain(reader);
    expect((await as(ADMIN_KEY, '/audit/api-keys', { method: 'POST', json: { name: 'x', scopes: ['root'] } })).status).toBe(400);
    expect((await as(ADMIN_KEY, '/audit/api-keys', { method: 'POST', json: { name: 'x', scopes: ['admin'], extra: 1 } })).status).toBe(400);

    const pd = await until(
      () => as(ADMIN_KEY, '/audit/events?event_type=permission_denied'),
      (r) => r.body.total === 1,
    );
    expect(pd.body.events[0]).toMatchObject({ severity: 'warning', metadata: { api_key: 'dashboard', required_scope: 'events:write' } });

    const revoked = await as(ADMIN_KEY, `/audit/api-keys/${created.body.id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    expect((await as(reader, '/audit/statistics')).status).toBe(401);
  });

  it('should record reads of the log as api_access, without recording those records being read', async () => {
    await as(ADMIN_KEY, '/audit/events?category=device');
    const access = await until(
      () => as(ADMIN_KEY, '/audit/events?event_type=api_access&metadata.query=category%3Ddevice'),
      (r) => r.body.total >= 1,
    );
    await new Promise((r) => setTimeout(r, 300));
    const again = await as(ADMIN_KEY, '/audit/events?event_type=api_access&metadata.query=category%3Ddevice');
    expect(again.body.total).toBe(1);
    expect(access.body.events[0]).toMatchObject({ metadata: { method: 'GET', path: '/audit/events', api_key: 'bootstrap-admin' } });
    const admin = await until(
      () => as(ADMIN_KEY, '/audit/events?event_type=admin_action'),
      (r) => r.body.total === 2,
    );
    expect(admin.body.events.map((e: { metadata: { action: string } }) => e.metadata.action)).toEqual(
      expect.arrayContaining(['api_key_created', 'api_key_revoked']),
    );
  });
});

describe('rate limits', () => {
  it('should answer 429 with Retry-After once a key spends its budget, without touching other keys', async () => {
    const app = await bootApp({ AUDIT_BOOTSTRAP_API_KEY: ADMIN_KEY, AUDIT_RATE_LIMIT_PER_MINUTE: '20' });
    try {
      const created = await http(`${app.url}/audit/api-keys`, {
        method: 'POST',
        json: { name: 'busy', scopes: ['events:read'] },
        headers: { 'x-api-key': ADMIN_KEY },
      });
      const statuses: number[] = [];
      let limited: Json | undefined;
      for (let i = 0; i < 25; i++) {
        const r = await http(`${app.url}/audit/event-types`, { headers: { 'x-api-key': created.body.key } });
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(limited?.body.error.code).toBe('rate_limited');
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await http(`${app.url}/audit/event-types`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('listening beyond loopback', () => {
  it('should refuse to start without API keys', async () => {
    await expect(bootApp({ HOST: '0.0.0.0' })).rejects.toThrow(/refusing to listen on 0.0.0.0 without API keys/);
  });

  it('should start with a bootstrap key and require it', async () => {
    const app = await bootApp({ HOST: '0.0.0.0', AUDIT_BOOTSTRAP_API_KEY: ADMIN_KEY });
    try {
      const url = app.url.replace('0.0.0.0', '127.0.0.1');
      expect((await http(`${url}/audit/events`)).status).toBe(401);
      expect((await http(`${url}/audit/events`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('should name a bad setting and exit', async () => {
    await expect(bootApp({ PORT: 'eighty' })).rejects.toThrow(/PORT must be a whole number/);
  });
});
