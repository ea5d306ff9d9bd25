import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ArrayNotEmpty, IsArray, IsIn, IsString, Matches } from 'class-validator';
import { FastifyRequest } from 'fastify';
import { isUuid, NotFoundError, ValidationError } from '@app/contracts';
import { ApiKeyService, Scope, SCOPES } from '@app/auth';
import { RequireScope } from '../http/auth.guard';
import { SelfAuditService } from '../self-audit.service';
import { requestInfo } from './request-context';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'device-manager' })
  @IsString()
  @Matches(/^[A-Za-z0-9_. -]{1,64}$/, { message: 'name must be 1-64 letters, digits, spaces, dots, dashes or underscores' })
  name!: string;

  /** events:write for producers, events:read for dashboards and SIEM pulls, admin for key management. */
  @ApiProperty({ enum: SCOPES, isArray: true, example: ['events:write'] })
  @IsArray()
  @ArrayNotEmpty()
  @IsIn(SCOPES, { each: true })
  scopes!: Scope[];
}

@ApiTags('api-keys')
@Controller('audit/api-keys')
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly selfAudit: SelfAuditService,
  ) {}

  @Post()
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create an API key; the key is shown once in the response' })
  async create(@Body() dto: CreateApiKeyDto, @Req() req: FastifyRequest): Promise<unknown> {
    const info = requestInfo(req);
    const created = await this.keys.create(dto.name, dto.scopes, info.principal.tenantId);
    this.selfAudit.record({
      tenantId: info.principal.tenantId,
      eventType: 'admin_action',
      description: `API key '${dto.name}' created with scopes ${dto.scopes.join(', ')}`,
      ipAddress: info.ipAddress,
      userAgent: info.userAgent,
      metadata: { action: 'api_key_created', api_key_id: created.id, by: info.principal.name },
    });
    return created;
  }

  @Get()
  @RequireScope('admin')
  @ApiOperation({ summary: 'List API keys (never their secrets)' })
  async list(@Req() req: FastifyRequest): Promise<unknown> {
    const info = requestInfo(req);
    return { api_keys: await this.keys.list(info.principal.tenantId) };
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Revoke an API key' })
  async revoke(@Param('id') id: string, @Req() req: FastifyRequest): Promise<void> {
    const info = requestInfo(req);
    if (!isUuid(id)) throw new ValidationError(`'${id.slice(0, 64)}' is not an API key id`, [{ field: 'id', message: 'must be a UUID' }]);
    if (!(await this.keys.revoke(info.principal.tenantId, id))) throw new NotFoundError(`no active API key with id ${id}`);
    this.selfAudit.record({
      tenantId: info.principal.tenantId,
      eventType: 'admin_action',
      description: `API key ${id} revoked`,
      ipAddress: info.ipAddress,
      userAgent: info.userAgent,
      metadata: { action: 'api_key_revoked', api_key_id: id, by: info.principal.name },
    });
  }
}
