import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { requestInfo, RequireScope } from '@app/api';
import { LegalHoldDto, RestoreDto, RETENTION_PORT, RetentionPort } from './retention.port';

/** Who acted, as changes and holds record it: the key's name and id; the anonymous principal's name says it all. */
export const actorOf = (req: FastifyRequest): string => {
  const p = requestInfo(req).principal;
  return p.keyId === 'anonymous' ? p.name : `${p.name} (${p.keyId})`;
};

/** Retention policy, its delayed changes and legal holds: admin scope, the tenant is the API key's. */
@ApiTags('retention')
@Controller('audit')
export class RetentionController {
  constructor(@Inject(RETENTION_PORT) private readonly retention: RetentionPort) {}

  @Post('retention')
  @RequireScope('admin')
  @ApiOperation({
    summary:
      "Sets the tenant's retention policy. A change that would archive or delete data now answers 202 with its dry run and takes effect after AUDIT_RETENTION_CHANGE_DELAY_HOURS (cancellable); otherwise 201, in force at once",
  })
  @ApiBody({
    schema: {
      type: 'object',
      example: { retention_days: 2555, archive_after_days: 365, compress_archives: true, encryption_required: true },
    },
  })
  @ApiResponse({ status: 201, description: 'Applied at once: `{status: "applied", policy, dry_run, warnings}`' })
  @ApiResponse({
    status: 202,
    description: 'Pending: it would archive or delete data now; `{status: "pending", pending: {id, effective_at}, dry_run}`',
  })
  @ApiResponse({ status: 400, description: 'A field is wrong (named in error.details): days, presets, periods, categories' })
  async setPolicy(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const result = await this.retention.setPolicy(requestInfo(req).tenantId, body, actorOf(req));
    if (result.status === 'pending') void reply.status(202);
    return result;
  }

  @Get('retention')
  @RequireScope('admin')
  @ApiOperation({ summary: 'The policy in force, pending changes, and what it means now (oldest online day, events due, next run)' })
  getPolicy(@Req() req: FastifyRequest): Promise<unknown> {
    return this.retention.getPolicy(requestInfo(req).tenantId);
  }

  @Delete('retention/pending/:id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Cancels a pending retention change (an audit event)' })
  cancel(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.retention.cancelChange(requestInfo(req).tenantId, id, actorOf(req));
  }

  @Post('retention/run')
  @RequireScope('admin')
  @HttpCode(202)
  @ApiResponse({ status: 202, description: 'The queued (or already running) run job, with its status_url (also in Location)' })
  @ApiResponse({ status: 404, description: 'No retention policy is set for the tenant' })
  @ApiOperation({
    summary:
      "Queues a run of the tenant's retention (as the schedule does): 202 with the job (id, status_url); GET the status_url for its progress and, once it succeeded, its result (archives written, events offloaded and deleted). A run already queued or running is answered instead of a second one",
  })
  async run(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const job = await this.retention.run(requestInfo(req).tenantId, actorOf(req));
    void reply.header('location', job.status_url);
    return job;
  }

  @Get('retention/jobs')
  @RequireScope('admin')
  @ApiOperation({ summary: "The tenant's retention jobs (runs and restores), newest first, at most 100: state, phase, done/expected" })
  async jobs(@Req() req: FastifyRequest): Promise<unknown> {
    return { jobs: await this.retention.listJobs(requestInfo(req).tenantId) };
  }

  @Get('retention/jobs/:id')
  @RequireScope('admin')
  @ApiOperation({
    summary:
      'One retention job: state (queued, running, succeeded, failed), phase, done/expected events, attempts (more than 1: resumed after a crash), error, and its result once it succeeded',
  })
  job(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.retention.getJob(requestInfo(req).tenantId, id);
  }

  @Get('archives')
  @RequireScope('admin')
  @ApiOperation({
    summary:
      "The tenant's archives: one manifest per category and UTC day (count, first/last ids, SHA-256 of plaintext and object, policy)",
  })
  async archives(@Req() req: FastifyRequest): Promise<unknown> {
    return { archives: await this.retention.listArchives(requestInfo(req).tenantId) };
  }

  @Post('archives/:id/restore')
  @RequireScope('admin')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Queues the restore of an archive into the query store (checked, decrypted with the body identity or AUDIT_ARCHIVE_IDENTITY): 202 with the job (id, status_url); events already online are not duplicated',
  })
  async restore(
    @Param('id') id: string,
    @Body() body: RestoreDto,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<unknown> {
    const job = await this.retention.restore(requestInfo(req).tenantId, id, body ?? {}, actorOf(req));
    void reply.header('location', job.status_url);
    return job;
  }

  @Post('legal-holds')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Places a legal hold: nothing it covers (category, time range) is deleted until it is released' })
  placeHold(@Body() hold: LegalHoldDto, @Req() req: FastifyRequest): Promise<unknown> {
    return this.retention.placeHold(requestInfo(req).tenantId, hold, actorOf(req));
  }

  @Get('legal-holds')
  @RequireScope('admin')
  @ApiOperation({ summary: "The tenant's active legal holds (?include_released=true: released ones too)" })
  async listHolds(@Req() req: FastifyRequest, @Query('include_released') includeReleased?: string): Promise<unknown> {
    return { holds: await this.retention.listHolds(requestInfo(req).tenantId, includeReleased === 'true') };
  }

  @Delete('legal-holds/:id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'Releases a legal hold (an audit event); the hold stays listed as released' })
  releaseHold(@Param('id') id: string, @Req() req: FastifyRequest): Promise<unknown> {
    return this.retention.releaseHold(requestInfo(req).tenantId, id, actorOf(req));
  }
}
