import { Controller, Get, Inject, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyRequest } from 'fastify';
import { RequireScope, requestInfo } from '@app/api';
import { COMPLETENESS_PORT, CompletenessPort } from './completeness.port';

/** Per-source completeness (docs/api.md "Sources and completeness"). */
@ApiTags('integrity')
@Controller('audit/sources')
export class SourcesController {
  constructor(@Inject(COMPLETENESS_PORT) private readonly completeness: CompletenessPort) {}

  @Get()
  @RequireScope('events:read')
  @ApiOperation({
    summary:
      "The tenant's sequenced sources: first and last sequence, last seen, open gaps (missing ranges), duplicates, usual interval and silence",
  })
  async list(@Req() req: FastifyRequest): Promise<unknown> {
    const sources = await this.completeness.sources(requestInfo(req).tenantId);
    return { sources, total: sources.length };
  }
}
