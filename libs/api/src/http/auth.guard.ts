import { CanActivate, ExecutionContext, Injectable, SetMetadata, Inject } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { FastifyRequest } from 'fastify';
import { AuditError, ErrorCode } from '@app/contracts';
import { ApiKeyService, hasScope, Principal, Scope } from '@app/auth';
import { SelfAuditService } from '../self-audit.service';

export const SCOPE_KEY = 'audit:scope';
/** The scope a route needs; routes without it (health, metrics, docs) are public. */
export const RequireScope = (scope: Scope): MethodDecorator & ClassDecorator => SetMetadata(SCOPE_KEY, scope);

export interface AuthSettings {
  /** True when the server listens on loopback only and anonymous access is allowed there. */
  anonymousAllowed: boolean;
  defaultTenant: string;
  /** Requests per minute per API key (anonymous loopback access is not limited). */
  rateLimitPerMinute?: number;
}

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

export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');

export type AuthedRequest = FastifyRequest & { principal?: Principal };

export function clientIp(req: FastifyRequest): string {
  return req.ip;
}

function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  const k = req.headers['x-api-key'];
  return typeof k === 'string' ? k.trim() : undefined;
}

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
    private readonly selfAudit: SelfAuditService,
    @Inject(AUTH_SETTINGS) private readonly settings: AuthSettings,
  ) {
    this.limiter = settings.rateLimitPerMinute ? new RateLimiter(settings.rateLimitPerMinute) : undefined;
  }

  private readonly limiter: RateLimiter | undefined;

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_KEY, [context.getHandler(), context.getClass()]);
    if (!scope) return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    const key = presentedKey(req);
    let principal: Principal | null = null;
    if (key !== undefined) {
      principal = await this.keys.verify(key);
      if (!principal) this.deny(req, 401, 'unauthorized_access', 'the API key is not valid or was revoked', scope);
    } else if (this.settings.anonymousAllowed) {
      principal = { keyId: 'anonymous', name: 'anonymous (loopback)', tenantId: this.settings.defaultTenant, scopes: ['admin'] };
    } else {
      this.deny(req, 401, 'unauthorized_access', 'an API key is required: send Authorization: Bearer <key> or X-API-Key', scope);
    }
    if (principal && !hasScope(principal, scope)) {
      req.principal = principal;
      this.deny(req, 403, 'permission_denied', `the API key lacks the '${scope}' scope`, scope);
    }
    req.principal = principal ?? undefined;
    if (principal && principal.keyId !== 'anonymous' && this.limiter) {
      const wait = this.limiter.take(principal.keyId);
      if (wait > 0) {
        throw new AuditError(
          ErrorCode.RateLimited,
          `rate limit of ${this.settings.rateLimitPerMinute} requests a minute exceeded for this API key`,
          429,
          [],
          {
            'retry-after': String(wait),
          },
        );
      }
    }
    return true;
  }

  private deny(
    req: AuthedRequest,
    status: 401 | 403,
    eventType: 'unauthorized_access' | 'permission_denied',
    message: string,
    scope: Scope,
  ): never {
    this.selfAudit.record({
      tenantId: req.principal?.tenantId ?? this.settings.defaultTenant,
      eventType,
      description: `${req.method} ${req.routeOptions?.url ?? req.url} denied: ${message}`,
      ipAddress: clientIp(req),
      userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 512) : undefined,
      metadata: {
        method: req.method,
        path: req.url.split('?')[0].slice(0, 256),
        required_scope: scope,
        api_key: req.principal?.name ?? null,
      },
    });
    throw new AuditError(
      status === 401 ? ErrorCode.Unauthorized : ErrorCode.Forbidden,
      message,
      status,
      [],
      status === 401 ? { 'www-authenticate': 'Bearer' } : {},
    );
  }
}
