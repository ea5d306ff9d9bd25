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
  it('should serve only a bare readiness answer without a key, and details, metrics and docs only with one', async () => {
    const live = await as(undefined, '/health/live');
    expect([live.status, live.body]).toEqual([200, { status: 'ok' }]);
    const bare = await as(undefined, '/health/ready');
    expect([bare.status, bare.body]).toEqual([200, { status: 'ok' }]);
    for (const path of ['/metrics', '/docs', '/docs/openapi.json']) {
      const r = await as(undefined, path);
      expect([path, r.status, r.body?.error?.code]).toEqual([path, 401, 'unauthorized']);
    }
    const scraper = await as(ADMIN_KEY, '/audit/api-keys', { method: 'POST', json: { name: 'prometheus', scopes: ['ops:read'] } });
    expect(scraper.status).toBe(201);
    const detailed = await as(scraper.body.key, '/health/ready');
    expect(detailed.body.checks.query_store.ok).toBe(true);
    const metrics = await as(scraper.body.key, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('audit_http_request_duration_seconds');
    expect((await as(scraper.body.key, '/audit/events')).status).toBe(403);
    expect((await as(scraper.body.key, '/docs/openapi.json')).body.paths['/audit/events']).toBeDefined();
    expect((await as('hpa_aaaaaaaaaaaa_cccccccccccccccccccccccccccccccccccccccccc', '/health/ready')).status).toBe(401);
  });

  describe('operators', () => {
    const TENANT = 'store-042';
    let storeAdmin: string;

    it('should let an operator key create a key for another tenant, and refuse it to a plain admin key', async () => {
      const created = await as(ADMIN_KEY, '/audit/api-keys', {
        method: 'POST',
        json: { name: 'store admin', scopes: ['admin'], tenant_id: TENANT },
      });
      expect(created.status).toBe(201);
      expect(created.body.tenant_id).toBe(TENANT);
      storeAdmin = created.body.key;
      const plain = await as(storeAdmin, '/audit/api-keys', {
        method: 'POST',
        json: { name: 'x', scopes: ['admin'], tenant_id: 'default' },
      });
      expect([plain.status, plain.body.error.details[0].field]).toEqual([403, '/tenant_id']);
      const escalate = await as(storeAdmin, '/audit/api-keys', { method: 'POST', json: { name: 'x', scopes: ['operator'] } });
      expect(escalate.status).toBe(403);
      expect(
        (await as(ADMIN_KEY, '/audit/api-keys', { method: 'POST', json: { name: 'x', scopes: ['admin'], tenant_id: 'BAD!' } })).status,
      ).toBe(400);
    });

    it('should read and write events for another tenant with X-Audit-Tenant, audited in that tenant', async () => {
      const forStore = { 'x-audit-tenant': TENANT };
      const posted = await as(ADMIN_KEY, '/audit/events', { method: 'POST', json: { event_type: 'login_success' }, headers: forStore });
      expect(posted.status).toBe(201);
      expect(posted.body.tenant_id).toBe(TENANT);
      const mine = await until(
        () => as(storeAdmin, '/audit/events?event_type=login_success'),
        (r) => r.body.total === 1,
      );
      expect(mine.body.events[0].id).toBe(posted.body.id);
      expect((await as(ADMIN_KEY, '/audit/events?event_type=login_success')).body.total).toBe(0);
      const viaOperator = await as(ADMIN_KEY, '/audit/events?event_type=login_success', { headers: forStore });
      expect(viaOperator.body.total).toBe(1);
      expect((await as(ADMIN_KEY, `/audit/events/${posted.body.id}`, { headers: forStore })).status).toBe(200);
      expect((await as(ADMIN_KEY, `/audit/events/${posted.body.id}`)).status).toBe(404);
      expect((await as(ADMIN_KEY, '/audit/statistics', { headers: forStore })).body.total_events).toBeGreaterThanOrEqual(1);
      const stream = await fetch(`${app.url}/audit/events/stream`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, ...forStore } });
      expect(stream.status).toBe(200);
      await stream.body?.cancel();

      const audited = await until(
        () => as(storeAdmin, '/audit/events?event_type=admin_action&metadata.action=operator_access'),
        (r) => r.body.total >= 5,
      );
      expect(audited.body.events[0].metadata).toMatchObject({
        operator_key: 'bootstrap-admin',
        operator_tenant: 'default',
        target_tenant: TENANT,
      });
      expect(audited.body.events[0].metadata.operator_key_id).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("should apply X-Audit-Tenant on the capabilities' routes too: what an operator creates there belongs to that tenant", async () => {
      const forStore = { 'x-audit-tenant': TENANT };
      const rule = await as(ADMIN_KEY, '/audit/alerts', {
        method: 'POST',
        headers: forStore,
        json: { alert_name: 'operator_rule', event_types: ['login_failed'], threshold: 5, time_window: 300 },
      });
      expect(rule.status).toBe(201);
      const integration = await as(ADMIN_KEY, '/audit/integrations', {
        method: 'POST',
        headers: forStore,
        json: { type: 'syslog', destination: '127.0.0.1:9', format: 'CEF' },
      });
      expect(integration.status).toBe(201);
      const policy = await as(ADMIN_KEY, '/audit/retention', { method: 'POST', headers: forStore, json: { retention_days: 400 } });
      expect(policy.status).toBeLessThan(300);

      // The store's own admin sees them, the operator's own tenant does not, and the operator sees them only through the header.
      expect((await as(storeAdmin, `/audit/alerts/${rule.body.id}`)).status).toBe(200);
      expect((await as(ADMIN_KEY, `/audit/alerts/${rule.body.id}`)).status).toBe(404);
      expect((await as(ADMIN_KEY, `/audit/alerts/${rule.body.id}`, { headers: forStore })).status).toBe(200);
      expect((await as(storeAdmin, `/audit/integrations/${integration.body.id}`)).status).toBe(200);
      expect((await as(ADMIN_KEY, `/audit/integrations/${integration.body.id}`)).status).toBe(404);
      expect((await as(storeAdmin, '/audit/retention')).body.policy.retention_days).toBe(400);
      expect((await as(ADMIN_KEY, '/audit/retention')).body.policy?.retention_days).not.toBe(400);
      await as(ADMIN_KEY, `/audit/integrations/${integration.body.id}`, { method: 'DELETE', headers: forStore });
    });

    it('should refuse X-Audit-Tenant for another tenant to a plain key with 403 naming the header', async () => {
      const r = await as(storeAdmin, '/audit/events', { headers: { 'x-audit-tenant': 'default' } });
      expect(r.status).toBe(403);
      expect(r.body.error.message).toContain('X-Audit-Tenant');
      expect(r.body.error.details[0].field).toBe('X-Audit-Tenant');
      expect((await as(storeAdmin, '/audit/events', { headers: { 'x-audit-tenant': TENANT } })).status).toBe(200);
    });
  });
});

describe('failed authentications', () => {
  it('should answer 429 with Retry-After after the budget of failures from one address, and keep a working key working', async () => {
    const app = await bootApp({
      AUDIT_BOOTSTRAP_API_KEY: ADMIN_KEY,
      AUDIT_ALLOW_ANONYMOUS_LOOPBACK: 'false',
      AUDIT_AUTH_FAILURES_PER_MINUTE: '5',
    });
    try {
      expect((await http(`${app.url}/audit/event-types`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
      const statuses: number[] = [];
      let limited: Json | undefined;
      for (let i = 0; i < 8; i++) {
        const r = await http(`${app.url}/audit/events`, { headers: { 'x-api-key': `made-up-key-number-${i}-0000000000` } });
        statuses.push(r.status);
        if (r.status === 429) limited = r;
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
      expect(limited?.body.error.code).toBe('rate_limited');
      expect(limited?.body.error.message).toContain('AUDIT_AUTH_FAILURES_PER_MINUTE');
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await http(`${app.url}/audit/events`)).status).toBe(429);
      expect((await http(`${app.url}/audit/event-types`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('bootstrap key rotation', () => {
  const NEXT_KEY = 'rotated-bootstrap-key-for-e2e-9876543210';

  it('should revoke the previous bootstrap key when restarted with another, record it, and keep the key when unset', async () => {
    const first = await bootApp({ AUDIT_BOOTSTRAP_API_KEY: ADMIN_KEY, AUDIT_ALLOW_ANONYMOUS_LOOPBACK: 'false' });
    expect((await http(`${first.url}/audit/events`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
    await first.close({ keepData: true });

    const second = await bootApp({ AUDIT_BOOTSTRAP_API_KEY: NEXT_KEY, AUDIT_ALLOW_ANONYMOUS_LOOPBACK: 'false' }, first.dataDir);
    try {
      expect((await http(`${second.url}/audit/events`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(401);
      const rotated = await eventually(async () => {
        const r = await http(`${second.url}/audit/events?event_type=admin_action&metadata.reason=bootstrap_key_rotated`, {
          headers: { 'x-api-key': NEXT_KEY },
        });
        // The page and its total are two reads: wait until both show the event.
        return r.status === 200 && r.body.total === 1 && r.body.events.length === 1 ? r : undefined;
      });
      expect(rotated.body.events[0].metadata).toMatchObject({ action: 'api_key_revoked', by: 'start-up' });
      expect(second.output()).toContain('bootstrap API key');
    } finally {
      await second.close({ keepData: true });
    }

    const third = await bootApp({ AUDIT_ALLOW_ANONYMOUS_LOOPBACK: 'false' }, first.dataDir);
    try {
      expect((await http(`${third.url}/audit/events`, { headers: { 'x-api-key': NEXT_KEY } })).status).toBe(200);
      expect((await http(`${third.url}/audit/events`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(401);
    } finally {
      await third.close();
    }
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
