import { IncomingHttpHeaders } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { AuditError, ErrorCode } from '@app/contracts';
import { ApiKeyService, AuthFailureLimiter, hasScope, Principal, Scope, TENANT_RE } from '@app/auth';
import { SelfAuditService } from '../self-audit.service';

export interface AuthSettings {
  /** True when the server listens on loopback only and anonymous access is allowed there. */
  anonymousAllowed: boolean;
  defaultTenant: string;
  /** Requests per minute per API key (anonymous loopback access is not limited). */
  rateLimitPerMinute?: number;
  /** Failed authentications per client address and minute before 429 (AUDIT_AUTH_FAILURES_PER_MINUTE). */
  authFailuresPerMinute?: number;
}

export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');

/** The header an operator key names the tenant it acts for with. */
export const TENANT_HEADER = 'x-audit-tenant';

/**
 * What authentication reads from and writes to a request: a FastifyRequest is one; unit specs build plain
 * objects of this shape.
 */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  ip: string;
  method: string;
  url: string;
  routeOptions?: { url?: string };
  principal?: Principal;
  /** The tenant the request acts in: its key's own, or X-Audit-Tenant for an operator key. Read it through requestInfo. */
  tenantId?: string;
}

/**
 * scope: the route needs a key with the scope (anonymous loopback access has them all).
 * optional: a route every probe may call; a key, if sent, must be valid and then shows more (readiness details).
 * any-key: any valid key (the OpenAPI document).
 */
export type Access = { kind: 'scope'; scope: Scope } | { kind: 'optional' } | { kind: 'any-key' };

/** A fixed one-minute window per key: cheap, and enough to stop one producer from starving the others. */
export class RateLimiter {
  private windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly perMinute: number) {}

  /** Seconds to wait, or 0 when the request may proceed. */
  take(key: string, now = Date.now()): number {
    let w = this.windows.get(key);
    if (!w || now - w.start >= 60_000) {
      if (this.windows.size > 100_000) this.windows = new Map();
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    if (++w.count <= this.perMinute) return 0;
    return Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
  }
}

export function clientIp(req: Pick<AuthRequest, 'ip'>): string {
  return req.ip;
}

function presentedKey(req: AuthRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  const k = req.headers['x-api-key'];
  return typeof k === 'string' ? k.trim() : undefined;
}

const pathOf = (req: AuthRequest): string => req.url.split('?')[0].slice(0, 256);

/**
 * Who is calling and for which tenant: the API key (or anonymous loopback access), its scope, the failed
 * authentication budget of the client address, the per-key rate limit, and X-Audit-Tenant. The guard runs
 * it for every Nest route and the OpenAPI routes run it from a hook, so the rules live only here.
 */
@Injectable()
export class Authenticator {
  private readonly limiter: RateLimiter | undefined;
  private readonly failures: AuthFailureLimiter;

  constructor(
    private readonly keys: ApiKeyService,
    private readonly selfAudit: SelfAuditService,
    @Inject(AUTH_SETTINGS) private readonly settings: AuthSettings,
  ) {
    this.limiter = settings.rateLimitPerMinute ? new RateLimiter(settings.rateLimitPerMinute) : undefined;
    this.failures = new AuthFailureLimiter(settings.authFailuresPerMinute ?? 30);
  }

  async authenticate(req: AuthRequest, access: Access): Promise<void> {
    const required = access.kind === 'scope' ? access.scope : access.kind;
    const key = presentedKey(req);
    let principal: Principal | undefined;
    if (key !== undefined) {
      // A key this process verified moments ago passes even from an address over its failure budget, so
      // clients behind one proxy address keep working while a neighbour guesses keys.
      principal = this.keys.cachedPrincipal(key) ?? undefined;
      if (!principal) {
        this.refuseIfFailing(req);
        principal = (await this.keys.verify(key)) ?? undefined;
        if (!principal) this.fail(req, 'the API key is not valid or was revoked', required);
      }
    } else if (this.settings.anonymousAllowed) {
      principal = {
        keyId: 'anonymous',
        name: 'anonymous (loopback)',
        tenantId: this.settings.defaultTenant,
        scopes: ['admin', 'operator'],
      };
    } else if (access.kind === 'optional') {
      return;
    } else {
      this.refuseIfFailing(req);
      this.fail(req, 'an API key is required: send Authorization: Bearer <key> or X-API-Key', required);
    }
    req.principal = principal;
    if (access.kind === 'scope' && !hasScope(principal, access.scope)) {
      this.deny(req, 403, 'permission_denied', `the API key lacks the '${access.scope}' scope`, required);
    }
    if (access.kind === 'scope') req.tenantId = this.tenantOf(req, principal, required);
    if (principal.keyId !== 'anonymous' && this.limiter) {
      const wait = this.limiter.take(principal.keyId);
      if (wait > 0) {
        throw new AuditError(
          ErrorCode.RateLimited,
          `rate limit of ${this.settings.rateLimitPerMinute} requests a minute exceeded for this API key`,
          429,
          [],
          { 'retry-after': String(wait) },
        );
      }
    }
    if (req.tenantId !== undefined && req.tenantId !== principal.tenantId) this.recordOperatorAccess(req, principal, req.tenantId);
  }

  /** X-Audit-Tenant: absent or the key's own tenant for every key; another tenant only for an operator key. */
  private tenantOf(req: AuthRequest, principal: Principal, required: string): string {
    const raw = req.headers[TENANT_HEADER];
    if (raw === undefined) return principal.tenantId;
    if (typeof raw !== 'string' || !TENANT_RE.test(raw)) {
      throw new AuditError(
        ErrorCode.ValidationFailed,
        `the X-Audit-Tenant header must be one tenant id matching ${TENANT_RE.source}`,
        400,
        [{ field: 'X-Audit-Tenant', message: `must match ${TENANT_RE.source}` }],
      );
    }
    if (raw === principal.tenantId || hasScope(principal, 'operator')) return raw;
    return this.deny(
      req,
      403,
      'permission_denied',
      `the X-Audit-Tenant header names tenant '${raw}', but only a key with the 'operator' scope may act for another tenant`,
      required,
      [{ field: 'X-Audit-Tenant', message: "acting for another tenant needs the 'operator' scope" }],
    );
  }

  private recordOperatorAccess(req: AuthRequest, principal: Principal, target: string): void {
    this.selfAudit.record({
      tenantId: target,
      eventType: 'admin_action',
      description: `operator key '${principal.name}' of tenant '${principal.tenantId}' acted for tenant '${target}': ${req.method} ${pathOf(req)}`,
      ipAddress: clientIp(req),
      userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 512) : undefined,
      metadata: {
        action: 'operator_access',
        operator_key_id: principal.keyId,
        operator_key: principal.name,
        operator_tenant: principal.tenantId,
        target_tenant: target,
        method: req.method,
        path: pathOf(req),
      },
    });
  }

  private refuseIfFailing(req: AuthRequest): void {
    const wait = this.failures.retryAfter(clientIp(req));
    if (wait === 0) return;
    throw new AuditError(
      ErrorCode.RateLimited,
      `too many failed authentications from this address (more than ${this.failures.perMinute} a minute, AUDIT_AUTH_FAILURES_PER_MINUTE); retry later`,
      429,
      [],
      { 'retry-after': String(wait) },
    );
  }

  private fail(req: AuthRequest, message: string, required: string): never {
    this.failures.fail(clientIp(req));
    return this.deny(req, 401, 'unauthorized_access', message, required);
  }

  private deny(
    req: AuthRequest,
    status: 401 | 403,
    eventType: 'unauthorized_access' | 'permission_denied',
    message: string,
    required: string,
    details: Array<{ field: string; message: string }> = [],
  ): never {
    this.selfAudit.record({
      tenantId: req.principal?.tenantId ?? this.settings.defaultTenant,
      eventType,
      description: `${req.method} ${req.routeOptions?.url ?? req.url} denied: ${message}`,
      ipAddress: clientIp(req),
      userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 512) : undefined,
      metadata: {
        method: req.method,
        path: pathOf(req),
        required_scope: required,
        api_key: req.principal?.name ?? null,
      },
    });
    throw new AuditError(
      status === 401 ? ErrorCode.Unauthorized : ErrorCode.Forbidden,
      message,
      status,
      details,
      status === 401 ? { 'www-authenticate': 'Bearer' } : {},
    );
  }
}
