import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { FastifyReply } from 'fastify';
import { HEALTH_PATHS } from '@app/common';
import { Metrics, ReadinessCheck, runChecks } from '@app/runtime';

/** What readiness checks: this process's own stores; dependencies owned by others are `required: false`. */
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

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
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const r = await runChecks(this.checks);
    void reply.status(r.ok ? 200 : 503);
    return { status: r.ok ? 'ok' : 'unavailable', checks: r.checks };
  }

  @Get(HEALTH_PATHS.metrics)
  @Header('content-type', 'text/plain; version=0.0.4')
  async metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
