import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InvalidQueryError } from '@app/contracts';
import { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScope } from '../http/auth.guard';
import { QUERY_PORT, QueryPort, TIMELINE_BREAKDOWNS, TIMELINE_MAX_HOURS, TimelineBreakdown } from '@app/query';
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

  @Get('timeline')
  @RequireScope('events:read')
  @ApiOperation({
    summary:
      'Events per whole UTC hour over the last `hours` (the current, partial hour last), split by category or severity, from the hourly roll-up: { breakdown, bucket_seconds, from, to, keys, timeline: [{ bucket, total, counts: { <key>: n } }] }',
  })
  @ApiQuery({ name: 'breakdown', required: false, enum: TIMELINE_BREAKDOWNS, description: 'What each hour is split by (default category)' })
  @ApiQuery({ name: 'hours', required: false, description: `How many hours, 1 to ${TIMELINE_MAX_HOURS} (default 24)` })
  async timeline(
    @Query() query: Record<string, unknown>,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<unknown> {
    const info = requestInfo(req);
    const { breakdown, hours } = parseTimelineQuery(query);
    const timeline = await this.gate.run(clientGone(reply.raw), (signal) => this.query.timeline(info.tenantId, breakdown, hours, signal));
    this.selfAudit.recordRead(req, info.tenantId, 'read audit statistics timeline', info);
    return timeline;
  }
}

/** `breakdown` (category or severity, default category) and `hours` (1 to 168, default 24); anything else is refused. */
export function parseTimelineQuery(query: Record<string, unknown>): { breakdown: TimelineBreakdown; hours: number } {
  const unknown = Object.keys(query).filter((k) => k !== 'breakdown' && k !== 'hours');
  if (unknown.length) {
    throw new InvalidQueryError(
      `unknown parameter ${unknown[0]}`,
      unknown.map((field) => ({ field, message: 'is not a parameter of the timeline' })),
    );
  }
  const breakdown = query.breakdown ?? 'category';
  if (typeof breakdown !== 'string' || !TIMELINE_BREAKDOWNS.includes(breakdown as TimelineBreakdown)) {
    throw new InvalidQueryError(`breakdown must be one of ${TIMELINE_BREAKDOWNS.join(', ')}`, [
      { field: 'breakdown', message: `must be one of ${TIMELINE_BREAKDOWNS.join(', ')}` },
    ]);
  }
  const text = query.hours ?? '24';
  const hours = typeof text === 'string' && /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(hours >= 1 && hours <= TIMELINE_MAX_HOURS)) {
    throw new InvalidQueryError(`hours must be a whole number from 1 to ${TIMELINE_MAX_HOURS}`, [
      { field: 'hours', message: `must be a whole number from 1 to ${TIMELINE_MAX_HOURS}` },
    ]);
  }
  return { breakdown: breakdown as TimelineBreakdown, hours };
}
