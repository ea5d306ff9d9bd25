import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { hasScope } from '@app/auth';
import { HEALTH_PATHS } from '@app/common';
import { AuthedRequest, OptionalAuth, RequireScope } from '../http/auth.guard';
import { Metrics } from '../metrics';
import { ComponentHealth } from '../ports';

/** What readiness checks: every store and service this process depends on. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<ComponentHealth>;
}

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

export async function runChecks(checks: ReadinessCheck[]): Promise<{ ok: boolean; checks: Record<string, ComponentHealth> }> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        return [c.name, await c.check()] as const;
      } catch (e) {
        return [c.name, { ok: false, detail: { error: (e as Error).message } }] as const;
      }
    }),
  );
  return { ok: results.every(([, r]) => r.ok), checks: Object.fromEntries(results) };
}

/**
 * Probes and metrics. Liveness is always anonymous and bare. Readiness answers every caller with its bare
 * status (200 {"status":"ok"} or 503 {"status":"unavailable"}: all a kubelet needs) and adds each check's
 * detail (paths, row counts, error strings) only for a key with ops:read. /metrics needs ops:read. Anonymous
 * loopback access has every scope, so a local `npm start` shows everything as before.
 */
@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
    private readonly metrics: Metrics,
  ) {}

  @Get(HEALTH_PATHS.live)
  live(): unknown {
    return { status: 'ok' };
  }

  @Get(HEALTH_PATHS.ready)
  @OptionalAuth()
  async ready(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const r = await runChecks(this.checks);
    void reply.status(r.ok ? 200 : 503);
    const status = r.ok ? 'ok' : 'unavailable';
    const principal = (req as AuthedRequest).principal;
    return principal && hasScope(principal, 'ops:read') ? { status, checks: r.checks } : { status };
  }

  @Get(HEALTH_PATHS.metrics)
  @RequireScope('ops:read')
  @Header('content-type', 'text/plain; version=0.0.4')
  async metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
