import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyRequest } from 'fastify';
import { ValidationError } from '@app/contracts';
import { requestInfo, RequireScope } from '@app/api';
import { ALERTING_PORT } from './alerting.port';
import type { AlertingPort } from './alerting.service';

const RULE_EXAMPLE = {
  alert_name: 'security_breach',
  event_types: ['unauthorized_access', 'login_failed'],
  threshold: 5,
  time_window: 300,
  notification: { email: 'security@company.com', webhook: 'https://alerts.company.com/webhook' },
  group_by: ['ip_address'],
  severity: 'critical',
  cooldown: 900,
};

/**
 * Alert rules: threshold over a sliding window of event time, per group, notified by signed webhook and e-mail.
 * Only the alerting port is called, so the same controller serves the embedded app and the gateway.
 */
@ApiTags('alerts')
@Controller('audit/alerts')
export class AlertingController {
  constructor(@Inject(ALERTING_PORT) private readonly alerting: AlertingPort) {}

  private tenant(req: FastifyRequest): string {
    return requestInfo(req).tenantId;
  }

  @Post()
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create an alert rule; the answer shows the webhook signing secret once' })
  @ApiBody({ schema: { type: 'object', example: RULE_EXAMPLE } })
  create(@Body() body: unknown, @Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.create(this.tenant(req), body);
  }

  @Get()
  @RequireScope('events:read')
  @ApiOperation({ summary: 'List alert rules' })
  list(@Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.list(this.tenant(req));
  }

  @Get(':id')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'One alert rule' })
  get(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.get(this.tenant(req), id);
  }

  @Patch(':id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Change an alert rule (fields given replace the stored ones; silences here)' })
  @ApiBody({
    schema: {
      type: 'object',
      example: { threshold: 10, silences: [{ start: '2026-01-01T00:00:00Z', end: '2026-01-01T02:00:00Z', reason: 'maintenance' }] },
    },
  })
  update(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.update(this.tenant(req), id, body);
  }

  @Delete(':id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Delete an alert rule (its firings and delivery log with it)' })
  remove(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.remove(this.tenant(req), id);
  }

  @Post(':id/enable')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Enable an alert rule' })
  enable(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.setEnabled(this.tenant(req), id, true);
  }

  @Post(':id/disable')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Disable an alert rule' })
  disable(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.setEnabled(this.tenant(req), id, false);
  }

  @Post(':id/test')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Send a test notification on every channel; shows what was sent and what the receiver answered' })
  test(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.alerting.test(this.tenant(req), id);
  }

  @Get(':id/firings')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Firings of a rule, newest first, with the triggering event ids and each delivery log' })
  firings(@Param('id') id: string, @Query('limit') limit: string | undefined, @Req() req: FastifyRequest): Promise<unknown> {
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new ValidationError('limit must be between 1 and 1000', [{ field: 'limit', message: 'must be between 1 and 1000' }]);
    return this.alerting.firings(this.tenant(req), id, n);
  }
}
