import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CATEGORIES, EVENT_TYPES } from '@app/contracts';
import { RequireScope } from '../http/auth.guard';

@ApiTags('catalogue')
@Controller('audit/event-types')
export class CatalogueController {
  @Get()
  @RequireScope('events:read')
  @ApiOperation({
    summary: 'The event catalogue: every known type with its category and default severity, and the categories with their aliases',
  })
  list(): unknown {
    return { event_types: EVENT_TYPES, categories: CATEGORIES, total: EVENT_TYPES.length };
  }
}
