import { Body, Controller, Get, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { AuditError, ErrorCode, InvalidQueryError, isUuid, NotFoundError, nowMicros } from '@app/contracts';
import { parseEventFilter } from '@app/query';
import { RequireScope } from '../http/auth.guard';
import { NDJSON_MARK } from '../http/body-parsers';
import { INGEST_PORT, IngestPort } from '@app/ingest';
import { mayBeInFlight, QUERY_PORT, QueryPort } from '@app/query';
import { clientGone, QUERY_SETTINGS, QueryGate, QuerySettings } from '../http/query-gate';
import { SelfAuditService } from '../self-audit.service';
import { Metrics } from '@app/runtime';
import { requestInfo } from './request-context';

@ApiTags('events')
@Controller('audit/events')
export class EventsController {
  constructor(
    @Inject(INGEST_PORT) private readonly ingest: IngestPort,
    @Inject(QUERY_PORT) private readonly query: QueryPort,
    private readonly selfAudit: SelfAuditService,
    private readonly metrics: Metrics,
    private readonly gate: QueryGate,
    @Inject(QUERY_SETTINGS) private readonly settings: QuerySettings,
  ) {}

  @Post()
  @RequireScope('events:write')
  @ApiOperation({
    summary: 'Record one event, or a batch (a JSON array or NDJSON, up to 5000 events)',
    description:
      'Answers only after the event is durable on the log. A single event returns 201 with the stored event; a batch returns a result per event: 201 when all were accepted, 207 when some were rejected (the valid ones are stored), 400 when none was valid. An Idempotency-Key header (or idempotency_key field) makes a retry return the first result (200, Idempotent-Replayed: true).',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiBody({
    schema: {
      oneOf: [{ $ref: '#/components/schemas/AuditEventInput' }, { type: 'array', items: { $ref: '#/components/schemas/AuditEventInput' } }],
    },
  })
  async create(@Body() body: unknown, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const info = requestInfo(req);
    const batch = Array.isArray(body);
    if (!batch && (body === null || typeof body !== 'object')) {
      throw new AuditError(ErrorCode.ValidationFailed, 'the body must be an event object, an array of events, or NDJSON', 400, [
        { field: '/', message: 'expected a JSON object or array' },
      ]);
    }
    const events = batch ? (body as unknown[]) : [body];
    const res = await this.ingest.ingest({
      events,
      batch,
      tenantId: info.tenantId,
      ipAddress: info.ipAddress,
      userAgent: info.userAgent,
      sessionId: info.sessionId,
      source: info.source,
      idempotencyKey: info.idempotencyKey,
    });
    this.metrics.eventsIngested.inc({ status: 'accepted' }, res.accepted);
    if (res.duplicates) this.metrics.eventsIngested.inc({ status: 'duplicate' }, res.duplicates);
    if (res.rejected) this.metrics.eventsIngested.inc({ status: 'rejected' }, res.rejected);

    if (!batch) {
      const r = res.results[0];
      if (r.status === 'rejected') {
        const reused = r.errors.some((e) => e.code === ErrorCode.IdempotencyKeyReused);
        throw new AuditError(
          reused ? ErrorCode.IdempotencyKeyReused : ErrorCode.ValidationFailed,
          `the event is invalid: ${r.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
          reused ? 422 : 400,
          r.errors,
        );
      }
      if (r.status === 'duplicate') {
        void reply.status(200).header('idempotent-replayed', 'true');
        return { id: r.id, status: 'duplicate' };
      }
      void reply.status(201).header('location', `/audit/events/${r.id}`);
      return { ...r.event, status: 'accepted' };
    }
    const status = res.rejected === 0 ? 201 : res.rejected === res.results.length ? 400 : 207;
    void reply.status(status);
    if (res.duplicates > 0 && res.accepted === 0 && res.rejected === 0) void reply.status(200).header('idempotent-replayed', 'true');
    const body2 = {
      accepted: res.accepted,
      duplicates: res.duplicates,
      rejected: res.rejected,
      format: (body as { [NDJSON_MARK]?: boolean })[NDJSON_MARK] ? 'ndjson' : 'json',
      results: res.results.map((r) => (r.status === 'accepted' ? { index: r.index, status: r.status, id: r.id } : r)),
    };
    if (status === 400) {
      return {
        error: {
          code: ErrorCode.ValidationFailed,
          message: 'no event in the batch is valid',
          details: res.results.flatMap((r) =>
            r.status === 'rejected' ? r.errors.map((e) => ({ ...e, field: `/${r.index}${e.field === '/' ? '' : e.field}` })) : [],
          ),
        },
        ...body2,
      };
    }
    return body2;
  }

  @Get()
  @RequireScope('events:read')
  @ApiOperation({ summary: 'Search events, newest first (default 100, at most 1000 per page); any metadata.<key>=<value> filters too' })
  @ApiQuery({
    name: 'wait_for_writes',
    required: false,
    description: 'true: first wait (up to AUDIT_READ_AFTER_WRITE_MS) until the store holds every event acknowledged before this request',
  })
  async search(
    @Query() query: Record<string, unknown>,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<unknown> {
    const info = requestInfo(req);
    const { wait_for_writes: waitForWrites, ...filters } = query;
    if (waitForWrites !== undefined && waitForWrites !== 'true' && waitForWrites !== 'false') {
      throw new InvalidQueryError('wait_for_writes must be true or false', [
        { field: 'wait_for_writes', message: 'must be true or false' },
      ]);
    }
    const { filter, page } = parseEventFilter(filters, nowMicros());
    const res = await this.gate.run(clientGone(reply.raw), async (signal) => {
      if (waitForWrites === 'true') {
        const caughtUp = await this.query.awaitWrites(this.settings.readAfterWriteMs, signal);
        void reply.header('x-read-after-write', caughtUp ? 'caught-up' : 'timed-out');
      }
      return this.query.search(info.tenantId, filter, page, signal);
    });
    const nextOffset = page.offset + res.events.length < res.total ? page.offset + res.events.length : null;
    let next: string | null = null;
    if (nextOffset !== null) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query))
        for (const x of Array.isArray(v) ? v : [v]) if (k !== 'offset' && k !== 'wait_for_writes') params.append(k, String(x));
      params.set('offset', String(nextOffset));
      next = `/audit/events?${params.toString()}`;
    }
    this.recordRead(req, info.tenantId, 'searched audit events', { result_count: res.events.length });
    return {
      events: res.events.map(stripPosition),
      total: res.total,
      limit: page.limit,
      offset: page.offset,
      next_offset: nextOffset,
      next,
    };
  }

  @Get(':id')
  @RequireScope('events:read')
  @ApiOperation({
    summary: 'One event by id',
    description:
      'An id the log acknowledged a moment ago is waited for (up to AUDIT_READ_AFTER_WRITE_MS, 2 s by default) until the store shows it, so a 201 is never followed by a 404.',
  })
  async findOne(@Param('id') id: string, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const info = requestInfo(req);
    if (!isUuid(id))
      throw new AuditError(ErrorCode.ValidationFailed, `'${id.slice(0, 64)}' is not an event id (a UUID)`, 400, [
        { field: 'id', message: 'must be a UUID' },
      ]);
    const wanted = id.toLowerCase();
    const tenantId = info.tenantId;
    const event = await this.gate.run(clientGone(reply.raw), async (signal) => {
      const found = await this.query.findById(tenantId, wanted, signal);
      if (found || this.settings.readAfterWriteMs === 0 || !mayBeInFlight(wanted)) return found;
      await this.query.awaitWrites(this.settings.readAfterWriteMs, signal);
      return this.query.findById(tenantId, wanted, signal);
    });
    if (!event) throw new NotFoundError(`no event with id ${id}`);
    this.recordRead(req, info.tenantId, `read audit event ${id}`, { event_id: id });
    return stripPosition(event);
  }

  private recordRead(req: FastifyRequest, tenantId: string, description: string, extra: Record<string, string | number>): void {
    const info = requestInfo(req);
    this.selfAudit.recordRead(req, tenantId, description, info, extra);
  }
}

export function stripPosition<T extends { position?: unknown }>(e: T): Omit<T, 'position'> {
  const { position: _position, ...rest } = e;
  return rest;
}
