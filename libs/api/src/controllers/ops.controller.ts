import { Body, Controller, Get, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyRequest } from 'fastify';
import { AuditError, CATEGORIES, ErrorCode, EVENT_TYPES, LIMITS, METADATA_KEY_RE, UnavailableError } from '@app/contracts';
import { MAX_BATCH_EVENTS } from '@app/ingest';
import { PAGE_LIMITS } from '@app/query';
import { RequireScope } from '../http/auth.guard';
import { INGEST_PORT, IngestPort } from '@app/ingest';
import { QUERY_PORT, QueryPort } from '@app/query';
import { ReadinessCheck, runChecks } from '@app/runtime';
import { READINESS_CHECKS } from './health.controller';
import { requestInfo } from './request-context';

/** Facts about the running deployment for GET /audit/config; never secrets. */
export interface PublicConfig {
  mode: 'embedded' | 'distributed';
  version: string;
  [key: string]: unknown;
}

export const PUBLIC_CONFIG = Symbol('PUBLIC_CONFIG');

const started = Date.now();

@ApiTags('operations')
@Controller('audit')
export class OpsController {
  constructor(
    @Inject(INGEST_PORT) private readonly ingest: IngestPort,
    @Inject(QUERY_PORT) private readonly query: QueryPort,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
    @Inject(PUBLIC_CONFIG) private readonly config: PublicConfig,
  ) {}

  @Get('status')
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Service status: each component (event log, query store, config store) with its detail' })
  async status(): Promise<unknown> {
    const r = await runChecks(this.checks);
    return {
      // Degraded when any component, a dependency included, is down; readiness looks only at this process's own.
      status: r.allOk ? 'ok' : 'degraded',
      mode: this.config.mode,
      version: this.config.version,
      uptime_seconds: Math.round((Date.now() - started) / 1000),
      // Which capabilities run; those turned off (AUDIT_CAPABILITIES_OFF) answer 404 capability_off.
      capabilities: { on: this.config.capabilities ?? [], off: this.config.capabilities_off ?? [] },
      components: r.checks,
    };
  }

  @Get('config')
  @RequireScope('events:read')
  @ApiOperation({
    summary: 'The effective event logging configuration (limits, batching, authentication mode, catalogue); secrets are never shown',
  })
  configuration(): unknown {
    return {
      ...this.config,
      limits: {
        max_body_bytes: this.config.max_body_bytes,
        max_batch_events: MAX_BATCH_EVENTS,
        max_event_bytes: LIMITS.eventBytes,
        max_description_chars: LIMITS.descriptionChars,
        max_metadata_bytes: LIMITS.metadataBytes,
        max_metadata_depth: LIMITS.metadataDepth,
        max_metadata_keys_per_object: LIMITS.metadataKeysPerObject,
        default_page_size: PAGE_LIMITS.defaultLimit,
        max_page_size: PAGE_LIMITS.maxLimit,
        max_offset: PAGE_LIMITS.maxOffset,
      },
      catalogue: { event_types: EVENT_TYPES.length, categories: CATEGORIES.map((c) => c.category) },
    };
  }

  @Post('test')
  @HttpCode(200)
  @RequireScope('events:write')
  @ApiOperation({ summary: 'Write a test event (audit_test), read it back, and report the round trip' })
  async test(@Body() body: unknown, @Req() req: FastifyRequest): Promise<unknown> {
    if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
      throw new AuditError(ErrorCode.ValidationFailed, 'the body must be a JSON object such as {"test_event": true}', 400, [
        { field: '/', message: 'expected an object' },
      ]);
    }
    const info = requestInfo(req);
    const metadata: Record<string, string | number | boolean | null> = {};
    for (const [k, v] of Object.entries((body as Record<string, unknown>) ?? {}).slice(0, 20)) {
      if (METADATA_KEY_RE.test(k) && (v === null || ['string', 'number', 'boolean'].includes(typeof v))) {
        metadata[k] = typeof v === 'string' ? v.slice(0, 256) : (v as number | boolean | null);
      }
    }
    const t0 = Date.now();
    const res = await this.ingest.ingest({
      events: [{ event_type: 'audit_test', description: 'Event logging self-test', metadata, source: 'homepot-audit' }],
      batch: false,
      tenantId: info.tenantId,
      ipAddress: info.ipAddress,
      userAgent: info.userAgent,
    });
    const r = res.results[0];
    if (r.status !== 'accepted') throw new AuditError(ErrorCode.Internal, 'the test event was not accepted', 500);
    const writeMs = Date.now() - t0;
    const deadline = t0 + 15_000;
    while (Date.now() < deadline) {
      const found = await this.query.findById(info.tenantId, r.id);
      if (found) {
        return {
          status: 'ok',
          event_id: r.id,
          write_ms: writeMs,
          round_trip_ms: Date.now() - t0,
          message: 'the test event was written to the log and read back from the query store',
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new UnavailableError(
      `the test event ${r.id} was written (${writeMs} ms) but was not readable within 15 s: the query store is behind or down; see GET /audit/status`,
    );
  }
}
