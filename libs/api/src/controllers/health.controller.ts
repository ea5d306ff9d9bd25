import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { hasScope } from '@app/auth';
import { HEALTH_PATHS } from '@app/common';
import { AuthedRequest, OptionalAuth, RequireScope } from '../http/auth.guard';
import { Metrics, ReadinessCheck, runChecks } from '@app/runtime';

/** What readiness checks: this process's own stores; dependencies owned by others are `required: false`. */
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

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
