import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScope } from '../http/auth.guard';
import { QUERY_PORT, QueryPort } from '@app/query';
import { clientGone, QueryGate } from '../http/query-gate';
import { SelfAuditService } from '../self-audit.service';
import { requestInfo } from './request-context';

@ApiTags('statistics')
@Controller('audit/statistics')
export class StatisticsController {
  constructor(
    @Inject(QUERY_PORT) private readonly query: QueryPort,
    private readonly selfAudit: SelfAuditService,
    private readonly gate: QueryGate,
  ) {}

  @Get()
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Totals by category and severity, and recent activity (last hour, 24 hours, week)' })
  async statistics(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const info = requestInfo(req);
    const stats = await this.gate.run(clientGone(reply.raw), (signal) => this.query.statistics(info.tenantId, signal));
    this.selfAudit.recordRead(req, info.tenantId, 'read audit statistics', info);
    return stats;
  }

  @Get('detailed')
  @RequireScope('events:read')
  @ApiOperation({
    summary:
      'Statistics plus counts by event type, hourly counts over 24 hours, and the top sites, devices, users and sources over 7 UTC days (today and the six before, from top_lists_from)',
  })
  async detailed(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const info = requestInfo(req);
    const stats = await this.gate.run(clientGone(reply.raw), (signal) => this.query.detailedStatistics(info.tenantId, signal));
    this.selfAudit.recordRead(req, info.tenantId, 'read detailed audit statistics', info);
    return stats;
  }
}
