import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyRequest } from 'fastify';
import { RequireScope, requestInfo, SelfAuditService } from '@app/api';
import { InvalidQueryError, parseTimeBound, unknownFields, ValidationError } from '@app/contracts';
import { INTEGRITY_PORT, IntegrityPort, VerifyRange } from './integrity.port';

function sizeParam(value: unknown, name: string): number {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw new ValidationError(`${name} must be a tree size (a whole number)`, [{ field: name, message: 'must be a whole number' }]);
  }
  return Number(value);
}

function timeField(body: Record<string, unknown>, name: 'from' | 'to'): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  const us = typeof v === 'string' ? parseTimeBound(v, name === 'to') : undefined;
  if (us === undefined)
    throw new ValidationError(`${name} must be an ISO 8601 timestamp or date`, [
      { field: `/${name}`, message: 'must be an ISO 8601 timestamp or a date (a date alone: the whole UTC day)' },
    ]);
  return us;
}

/** The verify body: `from` and `to` (inclusive event times, either may be absent), nothing else, in order. */
export function parseVerifyBody(body: unknown): VerifyRange {
  const b = body === undefined || body === null ? {} : body;
  if (typeof b !== 'object' || Array.isArray(b))
    throw new ValidationError('the body must be an object', [{ field: '/', message: 'must be an object' }]);
  const unknown = unknownFields(b, ['from', 'to'], '/');
  if (unknown.length > 0) throw new ValidationError(`${unknown[0].field}: ${unknown[0].message}`, unknown);
  const range: VerifyRange = {
    fromUs: timeField(b as Record<string, unknown>, 'from'),
    toUs: timeField(b as Record<string, unknown>, 'to'),
  };
  if (range.fromUs !== undefined && range.toUs !== undefined && range.toUs < range.fromUs) {
    throw new ValidationError('to is before from', [{ field: '/to', message: 'must not be before from' }]);
  }
  return range;
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
  consistency(@Req() req: FastifyRequest, @Query() query: Record<string, unknown>): Promise<unknown> {
    const unknown = unknownFields(query, ['from', 'to']);
    if (unknown.length > 0) throw new InvalidQueryError(`unknown query parameter ${unknown[0].field}`, unknown);
    const { from, to } = query;
    return this.integrity.consistency(requestInfo(req).tenantId, sizeParam(from, 'from'), sizeParam(to, 'to'));
  }

  @Post('verify')
  @HttpCode(200)
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Recomputes every leaf from the query store and names the events modified, removed, inserted or reordered',
  })
  async verify(@Req() req: FastifyRequest, @Body() body: unknown): Promise<unknown> {
    const range = parseVerifyBody(body);
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
