import { ExecutionContext, Type } from '@nestjs/common';
import { HttpArgumentsHost, RpcArgumentsHost, WsArgumentsHost } from '@nestjs/common/interfaces';
import { Reflector } from '@nestjs/core';
import { AuditError } from '@app/contracts';
import { ApiKeyService, InMemoryApiKeyStore, Scope } from '@app/auth';
import { IngestPort, IngestRequest, IngestResponse } from '@app/ingest';
import { SelfAuditService } from '../self-audit.service';
import { AuthGuard, OptionalAuth, RequireScope } from './auth.guard';
import { AuthRequest, Authenticator, AuthSettings } from './authenticator';

/** Records what the service would have written about itself. */
class RecordingIngest implements IngestPort {
  readonly requests: IngestRequest[] = [];

  async ingest(request: IngestRequest): Promise<IngestResponse> {
    this.requests.push(request);
    return { accepted: request.events.length, duplicates: 0, rejected: 0, results: [] };
  }

  async expireIdempotencyKeys(): Promise<{ expired: number; window_hours: number | null }> {
    return { expired: 0, window_hours: null };
  }

  async health(): Promise<{ ok: boolean }> {
    return { ok: true };
  }

  events(): Array<{ tenantId: string; event: Record<string, unknown> }> {
    return this.requests.flatMap((r) => r.events.map((e) => ({ tenantId: r.tenantId, event: e as Record<string, unknown> })));
  }
}

class Routes {
  @RequireScope('events:read')
  read(): void {}

  @RequireScope('ops:read')
  metrics(): void {}

  @OptionalAuth()
  ready(): void {}

  live(): void {}
}

/** The one HTTP request a guard sees, as Nest hands it over. */
class HttpContext implements ExecutionContext {
  constructor(
    private readonly req: AuthRequest,
    private readonly handler: keyof Routes,
  ) {}

  getClass<T>(): Type<T> {
    return Routes as Type<T>;
  }

  getHandler(): (...args: unknown[]) => unknown {
    return Routes.prototype[this.handler];
  }

  getArgs<T extends unknown[]>(): T {
    return [this.req] as T;
  }

  getArgByIndex<T>(index: number): T {
    return this.getArgs()[index] as T;
  }

  switchToHttp(): HttpArgumentsHost {
    const req = this.req;
    return {
      getRequest: <T>() => req as T,
      getResponse: <T>() => ({}) as T,
      getNext: <T>() => (() => undefined) as T,
    };
  }

  switchToRpc(): RpcArgumentsHost {
    throw new Error('HTTP only');
  }

  switchToWs(): WsArgumentsHost {
    throw new Error('HTTP only');
  }

  getType<T extends string>(): T {
    return 'http' as T;
  }
}

describe(AuthGuard.name, () => {
  let store: InMemoryApiKeyStore;
  let keys: ApiKeyService;
  let ingest: RecordingIngest;

  const newGuard = (settings: Partial<AuthSettings> = {}): AuthGuard =>
    new AuthGuard(
      new Reflector(),
      new Authenticator(keys, new SelfAuditService(ingest, true), {
        anonymousAllowed: false,
        defaultTenant: 'default',
        authFailuresPerMinute: 3,
        ...settings,
      }),
    );
  const request = (headers: Record<string, string> = {}, ip = '203.0.113.7'): AuthRequest => ({
    headers,
    ip,
    method: 'GET',
    url: '/audit/events',
  });
  const keyOf = async (scopes: Scope[], tenant = 'default'): Promise<string> => (await keys.create('k', scopes, tenant)).key;
  const statusOf = async (p: Promise<unknown>): Promise<number | 'passed'> => {
    try {
      await p;
      return 'passed';
    } catch (e) {
      if (e instanceof AuditError) return e.status;
      throw e;
    }
  };

  beforeEach(() => {
    store = new InMemoryApiKeyStore();
    keys = new ApiKeyService(store);
    ingest = new RecordingIngest();
  });

  describe('failed authentications', () => {
    it('should answer 429 with Retry-After once an address spent its failure budget, without looking the key up', async () => {
      const sut = newGuard();
      const bad = (i: number) => request({ authorization: `Bearer hpa_${'a'.repeat(12)}_${String(i).padStart(43, 'z')}` });
      for (let i = 0; i < 3; i++) expect(await statusOf(sut.canActivate(new HttpContext(bad(i), 'read')))).toBe(401);
      const lookups = store.lookups;
      const limited = await sut.canActivate(new HttpContext(bad(99), 'read')).catch((e: unknown) => e);
      expect(limited).toBeInstanceOf(AuditError);
      expect((limited as AuditError).toBody().error.code).toBe('rate_limited');
      expect((limited as AuditError).status).toBe(429);
      expect(Number((limited as AuditError).headers['retry-after'])).toBeGreaterThan(0);
      expect(store.lookups).toBe(lookups);
      // missing keys count too, and another address is not affected
      expect(await statusOf(sut.canActivate(new HttpContext(request(), 'read')))).toBe(429);
      expect(await statusOf(sut.canActivate(new HttpContext(request({}, '198.51.100.1'), 'read')))).toBe(401);
    });

    it('should still let a key verified moments ago through from an address over its budget', async () => {
      const sut = newGuard();
      const good = await keyOf(['events:read']);
      expect(await statusOf(sut.canActivate(new HttpContext(request({ 'x-api-key': good }), 'read')))).toBe('passed');
      for (let i = 0; i < 4; i++) await statusOf(sut.canActivate(new HttpContext(request({ 'x-api-key': `wrong-${i}` }), 'read')));
      expect(await statusOf(sut.canActivate(new HttpContext(request({ 'x-api-key': 'wrong-again' }), 'read')))).toBe(429);
      expect(await statusOf(sut.canActivate(new HttpContext(request({ 'x-api-key': good }), 'read')))).toBe('passed');
    });
  });

  describe('probes and metrics with anonymous access off', () => {
    it('should let readiness pass without a key but without a principal, and refuse a bad key', async () => {
      const sut = newGuard();
      const anonymous = request();
      expect(await statusOf(sut.canActivate(new HttpContext(anonymous, 'ready')))).toBe('passed');
      expect(anonymous.principal).toBeUndefined();
      expect(await statusOf(sut.canActivate(new HttpContext(request({ 'x-api-key': 'not-a-key-000000' }), 'ready')))).toBe(401);
      const ops = request({ authorization: `Bearer ${await keyOf(['ops:read'])}` });
      expect(await statusOf(sut.canActivate(new HttpContext(ops, 'ready')))).toBe('passed');
      expect(ops.principal?.scopes).toEqual(['ops:read']);
    });

    it('should require ops:read for metrics, and keep liveness public', async () => {
      const sut = newGuard();
      expect(await statusOf(sut.canActivate(new HttpContext(request(), 'metrics')))).toBe(401);
      expect(await statusOf(sut.canActivate(new HttpContext(request({ 'x-api-key': await keyOf(['events:read']) }), 'metrics')))).toBe(403);
      expect(await statusOf(sut.canActivate(new HttpContext(request({ 'x-api-key': await keyOf(['ops:read']) }), 'metrics')))).toBe(
        'passed',
      );
      expect(await statusOf(sut.canActivate(new HttpContext(request(), 'live')))).toBe('passed');
    });

    it('should serve everything anonymously on a loopback listener that allows it', async () => {
      const sut = newGuard({ anonymousAllowed: true });
      expect(await statusOf(sut.canActivate(new HttpContext(request(), 'metrics')))).toBe('passed');
      const ready = request();
      await sut.canActivate(new HttpContext(ready, 'ready'));
      expect(ready.principal?.keyId).toBe('anonymous');
    });
  });

  describe('X-Audit-Tenant', () => {
    it('should refuse another tenant to a plain key with 403 naming the header, and record the denial', async () => {
      const sut = newGuard();
      const err = await sut
        .canActivate(new HttpContext(request({ 'x-api-key': await keyOf(['admin']), 'x-audit-tenant': 'store-042' }), 'read'))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuditError);
      expect((err as AuditError).status).toBe(403);
      expect((err as AuditError).message).toContain('X-Audit-Tenant');
      expect((err as AuditError).details).toEqual([{ field: 'X-Audit-Tenant', message: expect.stringContaining('operator') }]);
      expect(ingest.events()).toEqual([{ tenantId: 'default', event: expect.objectContaining({ event_type: 'permission_denied' }) }]);
    });

    it('should let a plain key name its own tenant, and refuse a malformed tenant with 400', async () => {
      const sut = newGuard();
      const own = request({ 'x-api-key': await keyOf(['events:read'], 'store-001'), 'x-audit-tenant': 'store-001' });
      expect(await statusOf(sut.canActivate(new HttpContext(own, 'read')))).toBe('passed');
      expect(own.tenantId).toBe('store-001');
      expect(ingest.events()).toEqual([]);
      const bad = request({ 'x-api-key': await keyOf(['operator']), 'x-audit-tenant': 'Not A Tenant' });
      expect(await statusOf(sut.canActivate(new HttpContext(bad, 'read')))).toBe(400);
    });

    it("should let an operator key act for another tenant, and record it in that tenant with the operator's key id", async () => {
      const sut = newGuard();
      const created = await keys.create('platform-ops', ['operator'], 'platform');
      const req = request({ authorization: `Bearer ${created.key}`, 'x-audit-tenant': 'store-042' });
      expect(await statusOf(sut.canActivate(new HttpContext(req, 'read')))).toBe('passed');
      expect(req.tenantId).toBe('store-042');
      expect(ingest.events()).toEqual([
        {
          tenantId: 'store-042',
          event: expect.objectContaining({
            event_type: 'admin_action',
            metadata: expect.objectContaining({
              action: 'operator_access',
              operator_key_id: created.id,
              operator_tenant: 'platform',
              target_tenant: 'store-042',
              path: '/audit/events',
            }),
          }),
        },
      ]);
    });
  });
});
