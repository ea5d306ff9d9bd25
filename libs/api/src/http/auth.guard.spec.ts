import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { ApiKeyEntity, ApiKeyService, ApiKeyStore } from '@app/auth';
import { AuditError, ErrorCode } from '@app/contracts';
import { IngestRequest, IngestResponse } from '@app/ingest';
import { IngestPort } from '@app/ingest';
import { ComponentHealth } from '@app/runtime';
import { SelfAuditService } from '../self-audit.service';
import { AuthedRequest, AuthGuard, AuthSettings, RequireScope } from './auth.guard';

class MemoryKeys implements ApiKeyStore {
  readonly rows: ApiKeyEntity[] = [];
  async insert(entity: ApiKeyEntity): Promise<void> {
    this.rows.push(entity);
  }
  async findByPrefix(prefix: string, activeOnly: boolean): Promise<ApiKeyEntity | null> {
    return this.rows.find((r) => r.prefix === prefix && (!activeOnly || r.revokedAt === null)) ?? null;
  }
  async countActive(): Promise<number> {
    return this.rows.length;
  }
  async listByTenant(): Promise<ApiKeyEntity[]> {
    return this.rows;
  }
  async revoke(): Promise<boolean> {
    return false;
  }
}

class FakeIngest implements IngestPort {
  readonly requests: IngestRequest[] = [];
  async ingest(request: IngestRequest): Promise<IngestResponse> {
    this.requests.push(request);
    return { accepted: 1, duplicates: 0, rejected: 0, results: [] };
  }
  async health(): Promise<ComponentHealth> {
    return { ok: true };
  }
}

class Routes {
  @RequireScope('events:read')
  read(): void {}

  @RequireScope('admin')
  admin(): void {}

  open(): void {}
}

interface FakeRequest {
  method: string;
  url: string;
  ip: string;
  headers: Record<string, string>;
  routeOptions: { url: string };
  principal?: AuthedRequest['principal'];
}

const request = (headers: Record<string, string> = {}): FakeRequest => ({
  method: 'GET',
  url: '/audit/events?q=x',
  ip: '10.0.0.7',
  headers,
  routeOptions: { url: '/audit/events' },
});

const contextFor = (req: FakeRequest, handler: keyof Routes): ExecutionContextHost => {
  const ctx = new ExecutionContextHost([req, {}], Routes, Routes.prototype[handler]);
  ctx.setType('http');
  return ctx;
};

describe(AuthGuard.name, () => {
  let keys: ApiKeyService;
  let ingest: FakeIngest;
  let reader: string;
  let admin: string;

  const guard = (settings: Partial<AuthSettings> = {}): AuthGuard =>
    new AuthGuard(new Reflector(), keys, new SelfAuditService(ingest, true), {
      anonymousAllowed: false,
      defaultTenant: 'default',
      ...settings,
    });

  const denial = async (sut: AuthGuard, req: FakeRequest, handler: keyof Routes): Promise<AuditError> => {
    const err = await sut.canActivate(contextFor(req, handler)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuditError);
    return err as AuditError;
  };

  beforeEach(async () => {
    keys = new ApiKeyService(new MemoryKeys());
    ingest = new FakeIngest();
    reader = (await keys.create('reader', ['events:read'], 't1')).key;
    admin = (await keys.create('root', ['admin'], 't1')).key;
  });

  it('should let routes without a scope through without a key', async () => {
    await expect(guard().canActivate(contextFor(request(), 'open'))).resolves.toBe(true);
  });

  it.each([
    ['Authorization: Bearer', (k: string) => ({ authorization: `Bearer ${k}` })],
    ['X-API-Key', (k: string) => ({ 'x-api-key': k })],
  ])('should accept a key with the scope in %s and attach its principal', async (_how, headers) => {
    const req = request(headers(reader));
    await expect(guard().canActivate(contextFor(req, 'read'))).resolves.toBe(true);
    expect(req.principal).toMatchObject({ name: 'reader', tenantId: 't1', scopes: ['events:read'] });
  });

  it('should let an admin key into every scope', async () => {
    await expect(guard().canActivate(contextFor(request({ 'x-api-key': admin }), 'read'))).resolves.toBe(true);
  });

  it('should answer 401 without a key, with WWW-Authenticate, and audit the denial', async () => {
    const err = await denial(guard(), request({ 'user-agent': 'curl/8' }), 'read');
    expect(err).toMatchObject({ code: ErrorCode.Unauthorized, status: 401, headers: { 'www-authenticate': 'Bearer' } });
    expect(ingest.requests).toHaveLength(1);
    expect(ingest.requests[0]).toMatchObject({ tenantId: 'default', ipAddress: '10.0.0.7', userAgent: 'curl/8' });
    expect(ingest.requests[0].events[0]).toMatchObject({
      event_type: 'unauthorized_access',
      metadata: { method: 'GET', path: '/audit/events', required_scope: 'events:read', api_key: null },
    });
  });

  it('should answer 401 for an unknown key', async () => {
    const err = await denial(guard(), request({ authorization: 'Bearer hpa_000000000000_' + 'x'.repeat(43) }), 'read');
    expect(err).toMatchObject({ code: ErrorCode.Unauthorized, status: 401 });
  });

  it("should answer 403 for a key without the scope, audited in the key's tenant", async () => {
    const err = await denial(guard(), request({ 'x-api-key': reader }), 'admin');
    expect(err).toMatchObject({ code: ErrorCode.Forbidden, status: 403, message: expect.stringContaining("'admin'") });
    expect(ingest.requests[0]).toMatchObject({ tenantId: 't1' });
    expect(ingest.requests[0].events[0]).toMatchObject({ event_type: 'permission_denied', metadata: { api_key: 'reader' } });
  });

  it('should let anonymous callers in as admin of the default tenant only where allowed (loopback)', async () => {
    const req = request();
    await expect(guard({ anonymousAllowed: true }).canActivate(contextFor(req, 'admin'))).resolves.toBe(true);
    expect(req.principal).toMatchObject({ keyId: 'anonymous', tenantId: 'default' });
  });

  it('should rate-limit per key with a Retry-After', async () => {
    const sut = guard({ rateLimitPerMinute: 2 });
    const req = (): FakeRequest => request({ 'x-api-key': reader });
    await sut.canActivate(contextFor(req(), 'read'));
    await sut.canActivate(contextFor(req(), 'read'));
    const err = await denial(sut, req(), 'read');
    expect(err).toMatchObject({ code: ErrorCode.RateLimited, status: 429, headers: { 'retry-after': expect.stringMatching(/^\d+$/) } });
    await expect(sut.canActivate(contextFor(request({ 'x-api-key': admin }), 'read'))).resolves.toBe(true);
  });
});
