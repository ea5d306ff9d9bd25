import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Readable } from 'node:stream';
import { FastifyReply, FastifyRequest } from 'fastify';
import { AuditError, ErrorCode } from '@app/contracts';
import { RequestInfo, requestInfo, RequireScope } from '@app/api';
import { JobKind } from './reporting-job.entity';
import { JobView, MAX_READ_BYTES, REPORTING_PORT, ReportingPort, Requester } from './reporting.port';

const requester = (info: RequestInfo): Requester => ({
  keyId: info.principal.keyId,
  name: info.principal.name,
  ipAddress: info.ipAddress,
  userAgent: info.userAgent,
});

const PERIOD = {
  type: 'object',
  required: ['start', 'end'],
  properties: {
    start: { type: 'string', examples: ['2025-08-01T00:00:00Z'] },
    end: { type: 'string', examples: ['2025-09-01T23:59:59Z'] },
  },
};
const FILTERS = {
  event_type: { type: 'string', description: 'As GET /audit/events: comma list allowed' },
  severity: { type: 'string' },
  q: { type: 'string', maxLength: 256 },
  source: { type: 'string' },
};

const SCHEDULE_BODY = {
  type: 'object',
  required: ['name', 'frequency', 'report'],
  properties: {
    name: { type: 'string', maxLength: 200 },
    frequency: { type: 'string', enum: ['daily', 'weekly', 'monthly'] },
    time: { type: 'string', pattern: '^\\d\\d:\\d\\d$', default: '00:00', description: 'Time of day, UTC' },
    weekday: { type: 'string', enum: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'], default: 'monday' },
    day_of_month: { type: 'integer', minimum: 1, maximum: 28, default: 1 },
    report: { type: 'object', description: 'The POST /audit/reports body without period (report_type, format, categories, filters)' },
    delivery: {
      type: 'object',
      properties: { webhook: { type: 'string', format: 'uri' }, email: { type: 'array', items: { type: 'string' } } },
      description: 'Left out: the report is only stored (listed with the schedule runs)',
    },
    paused: { type: 'boolean', default: false },
  },
};

/**
 * Exports (POST /audit/export) and reports (POST /audit/reports): jobs answered with 202 and a status URL,
 * their files downloaded once done. Only the reporting port is called, so this works in the gateway too.
 */
@ApiTags('reporting')
@Controller('audit')
export class ReportingController {
  constructor(@Inject(REPORTING_PORT) private readonly reporting: ReportingPort) {}

  @Post('export')
  @HttpCode(202)
  @ApiResponse({ status: 202, description: 'The job, with its status_url (also in Location)' })
  @RequireScope('events:read')
  @ApiOperation({
    summary: 'Start an export of the events of a period (CSV, JSON or NDJSON, optionally gzip)',
    description:
      'Answers 202 with the job; poll status_url, then GET download_url. The filters are those of GET /audit/events. The export is itself recorded as a data_exported event.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['period'],
      properties: {
        format: { type: 'string', enum: ['csv', 'json', 'ndjson'], default: 'csv' },
        period: PERIOD,
        categories: { type: 'array', items: { type: 'string' }, default: ['all'] },
        include_metadata: { type: 'boolean', default: true },
        compress: { type: 'boolean', default: false },
        ...FILTERS,
      },
      additionalProperties: { type: 'string', description: 'metadata.<key>: exact value' },
    },
  })
  async startExport(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<JobView> {
    const info = requestInfo(req);
    const job = await this.reporting.startExport(info.tenantId, body, requester(info));
    void reply.status(202).header('location', job.status_url);
    return job;
  }

  @Get('exports/:id')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'An export job: state, progress (rows done of rows expected), file and manifest once done' })
  exportStatus(@Param('id') id: string, @Req() req: FastifyRequest): Promise<JobView> {
    return this.reporting.get(requestInfo(req).tenantId, 'export', id);
  }

  @Get('exports/:id/download')
  @RequireScope('events:read')
  @ApiOperation({ summary: "An export's file, with Content-Length and its SHA-256 (Repr-Digest, X-Content-SHA256) before the body" })
  downloadExport(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.download('export', id, req, reply);
  }

  @Post('reports')
  @HttpCode(202)
  @ApiResponse({ status: 202, description: 'The job, with its status_url (also in Location)' })
  @RequireScope('events:read')
  @ApiOperation({
    summary: 'Start a report: compliance (per control), security or activity, as JSON, CSV or HTML',
    description:
      'Answers 202 with the job; poll status_url, then GET download_url. Generating a report is recorded as a report_generated event.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['report_type', 'period'],
      properties: {
        report_type: { type: 'string', enum: ['compliance', 'security', 'activity'] },
        period: PERIOD,
        categories: { type: 'array', items: { type: 'string' }, default: ['all'] },
        format: { type: 'string', enum: ['json', 'csv', 'html'], default: 'json' },
        ...FILTERS,
      },
    },
  })
  async startReport(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<JobView> {
    const info = requestInfo(req);
    const job = await this.reporting.startReport(info.tenantId, body, requester(info));
    void reply.status(202).header('location', job.status_url);
    return job;
  }

  @Post('reports/schedules')
  @HttpCode(201)
  @RequireScope('events:read')
  @ApiOperation({
    summary: 'Schedule a report: daily, weekly or monthly (UTC), delivered by webhook and/or e-mail, always stored',
    description:
      'Each run is a report job for the previous whole day, ISO week or calendar month, claimed once per slot across replicas. With a webhook, the answer carries webhook_secret once (Standard Webhooks signing, as alerts).',
  })
  @ApiBody({ schema: SCHEDULE_BODY })
  createSchedule(@Body() body: unknown, @Req() req: FastifyRequest): Promise<Record<string, unknown>> {
    const info = requestInfo(req);
    return this.reporting.createSchedule(info.tenantId, body, requester(info));
  }

  @Get('reports/schedules')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'The report schedules of the tenant' })
  listSchedules(@Req() req: FastifyRequest): Promise<Record<string, unknown>> {
    return this.reporting.listSchedules(requestInfo(req).tenantId);
  }

  @Get('reports/schedules/:id')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'A report schedule, its next run and its last 20 runs (slot, state, report job)' })
  getSchedule(@Param('id') id: string, @Req() req: FastifyRequest): Promise<Record<string, unknown>> {
    return this.reporting.getSchedule(requestInfo(req).tenantId, id);
  }

  @Put('reports/schedules/:id')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Replace a report schedule (a changed delivery gets a new webhook_secret)' })
  @ApiBody({ schema: SCHEDULE_BODY })
  updateSchedule(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest): Promise<Record<string, unknown>> {
    const info = requestInfo(req);
    return this.reporting.updateSchedule(info.tenantId, id, body, requester(info));
  }

  @Delete('reports/schedules/:id')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Delete a report schedule (its reports already made stay until they expire)' })
  removeSchedule(@Param('id') id: string, @Req() req: FastifyRequest): Promise<Record<string, unknown>> {
    const info = requestInfo(req);
    return this.reporting.removeSchedule(info.tenantId, id, requester(info));
  }

  @Post('reports/schedules/:id/pause')
  @HttpCode(200)
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Pause a report schedule: no new runs until resumed' })
  pauseSchedule(@Param('id') id: string, @Req() req: FastifyRequest): Promise<Record<string, unknown>> {
    const info = requestInfo(req);
    return this.reporting.setSchedulePaused(info.tenantId, id, true, requester(info));
  }

  @Post('reports/schedules/:id/resume')
  @HttpCode(200)
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Resume a paused report schedule from its next slot (missed slots are not caught up)' })
  resumeSchedule(@Param('id') id: string, @Req() req: FastifyRequest): Promise<Record<string, unknown>> {
    const info = requestInfo(req);
    return this.reporting.setSchedulePaused(info.tenantId, id, false, requester(info));
  }

  @Get('reports/:id')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'A report job: state, progress, file and manifest once done' })
  reportStatus(@Param('id') id: string, @Req() req: FastifyRequest): Promise<JobView> {
    return this.reporting.get(requestInfo(req).tenantId, 'report', id);
  }

  @Get('reports/:id/download')
  @RequireScope('events:read')
  @ApiOperation({ summary: "A report's file, with Content-Length and its SHA-256 before the body" })
  downloadReport(@Param('id') id: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.download('report', id, req, reply);
  }

  /**
   * The size and hash come from the job (computed while the file was written), so both are sent before the
   * first byte; the body is read through the port a chunk at a time, one chunk in memory.
   */
  private async download(kind: JobKind, id: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const info = requestInfo(req);
    const tenantId = info.tenantId;
    const job = await this.reporting.get(tenantId, kind, id);
    if (job.state !== 'done' || !job.file) {
      throw new AuditError(ErrorCode.NotReady, `the ${kind} is ${job.state}; download it once its state is done`, 409, [
        { field: 'id', message: `state is ${job.state}` },
      ]);
    }
    // Each download is an audit event too (PCI DSS 10.2.1.3), written before the first byte.
    await this.reporting.recordDownload(tenantId, kind, id, requester(info));
    const { file } = job;
    const reporting = this.reporting;
    let offset = 0;
    let eof = false;
    const body = new Readable({
      async read() {
        try {
          if (eof || offset >= file.size) return void this.push(null);
          const chunk = await reporting.read(tenantId, kind, id, offset, MAX_READ_BYTES);
          const bytes = Buffer.from(chunk.data, 'base64');
          offset += bytes.length;
          eof = chunk.eof || bytes.length === 0;
          this.push(bytes);
          if (eof) this.push(null);
        } catch (err) {
          this.destroy(err as Error);
        }
      },
    });
    await reply
      .status(200)
      .header('content-type', file.content_type)
      .header('content-length', String(file.size))
      .header('content-disposition', `attachment; filename="${file.name}"`)
      .header('x-content-sha256', file.sha256)
      .header('repr-digest', `sha-256=:${Buffer.from(file.sha256, 'hex').toString('base64')}:`)
      .header('etag', `"${file.sha256}"`)
      .header('cache-control', 'private, no-store')
      .send(body);
  }
}
