import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyRequest } from 'fastify';
import { RequireScope, requestInfo, SelfAuditService } from '@app/api';
import { parseTimestampMicros, ValidationError } from '@app/contracts';
import { INTEGRITY_PORT, IntegrityPort, VerifyRange } from './integrity.port';

function sizeParam(value: unknown, name: string): number {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw new ValidationError(`${name} must be a tree size (a whole number)`, [{ field: name, message: 'must be a whole number' }]);
  }
  return Number(value);
}

function timeField(body: Record<string, unknown>, name: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  const us = typeof v === 'string' ? parseTimestampMicros(v) : undefined;
  if (us === undefined)
    throw new ValidationError(`${name} must be an RFC 3339 timestamp`, [{ field: name, message: 'must be an RFC 3339 timestamp' }]);
  return us;
}

/** Checkpoints, the public key, consistency proofs and verification (docs/api.md "Integrity"). */
@ApiTags('integrity')
@Controller('audit/integrity')
export class IntegrityController {
  constructor(
    @Inject(INTEGRITY_PORT) private readonly integrity: IntegrityPort,
    private readonly selfAudit: SelfAuditService,
  ) {}

  @Get('public-key')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'The checkpoint signing key: a C2SP verifier key and its PEM' })
  publicKey(): Promise<unknown> {
    return this.integrity.publicKey();
  }

  @Get('checkpoint')
  @RequireScope('events:read')
  @ApiOperation({ summary: "The tenant's latest signed checkpoint (C2SP tlog-checkpoint in a signed note)" })
  checkpoint(@Req() req: FastifyRequest): Promise<unknown> {
    return this.integrity.latestCheckpoint(requestInfo(req).tenantId);
  }

  @Post('checkpoint')
  @HttpCode(201)
  @RequireScope('events:write')
  @ApiOperation({ summary: 'Signs a checkpoint of the tree as it is now (the same size again returns the one signed)' })
  createCheckpoint(@Req() req: FastifyRequest): Promise<unknown> {
    return this.integrity.createCheckpoint(requestInfo(req).tenantId, 'on_demand');
  }

  @Get('consistency')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'RFC 6962 consistency proof between two tree sizes (two checkpoints)' })
  consistency(@Req() req: FastifyRequest, @Query('from') from: unknown, @Query('to') to: unknown): Promise<unknown> {
    return this.integrity.consistency(requestInfo(req).tenantId, sizeParam(from, 'from'), sizeParam(to, 'to'));
  }

  @Post('verify')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Recomputes every leaf from the query store and names the events modified, removed, inserted or reordered',
  })
  async verify(@Req() req: FastifyRequest, @Body() body: unknown): Promise<unknown> {
    const b = body === undefined || body === null ? {} : body;
    if (typeof b !== 'object' || Array.isArray(b))
      throw new ValidationError('the body must be an object', [{ field: '/', message: 'must be an object' }]);
    const range: VerifyRange = {
      fromUs: timeField(b as Record<string, unknown>, 'from'),
      toUs: timeField(b as Record<string, unknown>, 'to'),
    };
    const info = requestInfo(req);
    const report = await this.integrity.verify(info.tenantId, range);
    this.selfAudit.recordRead(req, info.tenantId, 'verified audit log integrity', info);
    return report;
  }
}

/** GET /audit/events/:id/proof: its own controller, beside the core API's /audit/events/:id. */
@ApiTags('integrity')
@Controller('audit/events')
export class EventProofController {
  constructor(@Inject(INTEGRITY_PORT) private readonly integrity: IntegrityPort) {}

  @Get(':id/proof')
  @RequireScope('events:read')
  @ApiOperation({ summary: "Inclusion proof of one event against the tenant's latest checkpoint" })
  proof(@Req() req: FastifyRequest, @Param('id') id: string): Promise<unknown> {
    return this.integrity.proof(requestInfo(req).tenantId, id);
  }
}
