import { Body, Controller, Delete, Get, HttpCode, Logger, OnApplicationBootstrap, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ArrayNotEmpty, IsArray, IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { FastifyRequest } from 'fastify';
import { AuditError, ErrorCode, isUuid, NotFoundError, ValidationError } from '@app/contracts';
import { ApiKeyService, hasScope, Scope, SCOPES, TENANT_RE } from '@app/auth';
import { RequireScope } from '../http/auth.guard';
import { SelfAuditService } from '../self-audit.service';
import { requestInfo } from './request-context';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'device-manager' })
  @IsString()
  @Matches(/^[A-Za-z0-9_. -]{1,64}$/, { message: 'name must be 1-64 letters, digits, spaces, dots, dashes or underscores' })
  name!: string;

  /**
   * events:write for producers, events:read for dashboards and SIEM pulls, ops:read for a metrics scraper,
   * admin for key management, operator (only from an operator key) for every tenant.
   */
  @ApiProperty({ enum: SCOPES, isArray: true, example: ['events:write'] })
  @IsArray()
  @ArrayNotEmpty()
  @IsIn(SCOPES, { each: true })
  scopes!: Scope[];

  /** The tenant the key belongs to; another tenant than the caller's needs an operator key. */
  @ApiPropertyOptional({ example: 'store-042' })
  @IsOptional()
  @IsString()
  @Matches(TENANT_RE, { message: `tenant_id must match ${TENANT_RE.source}` })
  tenant_id?: string;
}

@ApiTags('api-keys')
@Controller('audit/api-keys')
export class ApiKeysController implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeysController.name);

  constructor(
    private readonly keys: ApiKeyService,
    private readonly selfAudit: SelfAuditService,
  ) {}

  /**
   * Start-up rotated the bootstrap key before the API existed: log it, and now that the ingest port is
   * wired, record it (best effort: in the distributed mode the ingest gateway may not be up yet; the log stays).
   */
  onApplicationBootstrap(): void {
    const outcome = this.keys.takeBootstrapOutcome();
    if (!outcome) return;
    if (outcome.configuredKeyRevoked) {
      this.logger.warn(`AUDIT_BOOTSTRAP_API_KEY names key ${outcome.keyId}, which was revoked: it stays revoked; set a new key to rotate`);
    }
    for (const r of outcome.revoked) {
      this.logger.log(`bootstrap API key ${r.id} revoked: AUDIT_BOOTSTRAP_API_KEY now names key ${outcome.keyId}`);
      this.selfAudit.record({
        tenantId: r.tenantId,
        eventType: 'admin_action',
        description: `bootstrap API key ${r.id} revoked at start-up: AUDIT_BOOTSTRAP_API_KEY was changed`,
        metadata: {
          action: 'api_key_revoked',
          api_key_id: r.id,
          reason: 'bootstrap_key_rotated',
          by: 'start-up',
          new_api_key_id: outcome.keyId,
        },
      });
    }
  }

  @Post()
  @RequireScope('admin')
  @ApiOperation({ summary: 'Create an API key; the key is shown once in the response' })
  async create(@Body() dto: CreateApiKeyDto, @Req() req: FastifyRequest): Promise<unknown> {
    const info = requestInfo(req);
    const tenantId = dto.tenant_id ?? info.tenantId;
    const operator = hasScope(info.principal, 'operator');
    if (tenantId !== info.principal.tenantId && !operator) {
      this.forbid(req, `only a key with the 'operator' scope may create keys for another tenant ('${tenantId}')`, '/tenant_id');
    }
    if (dto.scopes.includes('operator') && !operator) {
      this.forbid(req, "only a key with the 'operator' scope may create operator keys", '/scopes');
    }
    const created = await this.keys.create(dto.name, dto.scopes, tenantId);
    this.selfAudit.record({
      tenantId,
      eventType: 'admin_action',
      description: `API key '${dto.name}' created with scopes ${dto.scopes.join(', ')}`,
      ipAddress: info.ipAddress,
      userAgent: info.userAgent,
      metadata: {
        action: 'api_key_created',
        api_key_id: created.id,
        by: info.principal.name,
        by_key_id: info.principal.keyId,
        by_tenant: info.principal.tenantId,
      },
    });
    return created;
  }

  /** A refusal beyond the route's scope, recorded like the guard's own (permission_denied, rate-limited per address). */
  private forbid(req: FastifyRequest, message: string, field: string): never {
    const info = requestInfo(req);
    this.selfAudit.record({
      tenantId: info.principal.tenantId,
      eventType: 'permission_denied',
      description: `${req.method} /audit/api-keys denied: ${message}`,
      ipAddress: info.ipAddress,
      userAgent: info.userAgent,
      metadata: { method: req.method, path: '/audit/api-keys', required_scope: 'operator', api_key: info.principal.name },
    });
    throw new AuditError(ErrorCode.Forbidden, message, 403, [{ field, message: "needs the 'operator' scope" }]);
  }

  @Get()
  @RequireScope('admin')
  @ApiOperation({ summary: 'List API keys (never their secrets)' })
  async list(@Req() req: FastifyRequest): Promise<unknown> {
    const info = requestInfo(req);
    return { api_keys: await this.keys.list(info.tenantId) };
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('admin')
  @ApiOperation({ summary: 'Revoke an API key' })
  async revoke(@Param('id') id: string, @Req() req: FastifyRequest): Promise<void> {
    const info = requestInfo(req);
    if (!isUuid(id)) throw new ValidationError(`'${id.slice(0, 64)}' is not an API key id`, [{ field: 'id', message: 'must be a UUID' }]);
    if (!(await this.keys.revoke(info.tenantId, id))) throw new NotFoundError(`no active API key with id ${id}`);
    this.selfAudit.record({
      tenantId: info.tenantId,
      eventType: 'admin_action',
      description: `API key ${id} revoked`,
      ipAddress: info.ipAddress,
      userAgent: info.userAgent,
      metadata: { action: 'api_key_revoked', api_key_id: id, by: info.principal.name, by_key_id: info.principal.keyId },
    });
  }
}
