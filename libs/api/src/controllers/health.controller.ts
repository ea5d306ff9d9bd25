import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { FastifyReply } from 'fastify';
import { HEALTH_PATHS } from '@app/common';
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
