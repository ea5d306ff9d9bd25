import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { FastifyRequest } from 'fastify';
import { Principal, Scope } from '@app/auth';
import { Authenticator } from './authenticator';

export { AUTH_SETTINGS, clientIp, RateLimiter, TENANT_HEADER } from './authenticator';
export type { AuthSettings } from './authenticator';

export const SCOPE_KEY = 'audit:scope';
export const OPTIONAL_AUTH_KEY = 'audit:optional-auth';
/** The scope a route needs; routes with neither this nor OptionalAuth (the liveness probe) are public. */
export const RequireScope = (scope: Scope): MethodDecorator & ClassDecorator => SetMetadata(SCOPE_KEY, scope);
/** A route any caller may use, that shows more to a key it checks (a bad key is still refused): readiness. */
export const OptionalAuth = (): MethodDecorator & ClassDecorator => SetMetadata(OPTIONAL_AUTH_KEY, true);

export type AuthedRequest = FastifyRequest & { principal?: Principal; tenantId?: string };

/** Runs the Authenticator for every route that declares a scope or optional authentication. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: Authenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_KEY, targets);
    const optional = this.reflector.getAllAndOverride<boolean | undefined>(OPTIONAL_AUTH_KEY, targets);
    if (!scope && !optional) return true;
    const req = context.switchToHttp().getRequest<AuthedRequest>();
    await this.auth.authenticate(req, scope ? { kind: 'scope', scope } : { kind: 'optional' });
    return true;
  }
}
