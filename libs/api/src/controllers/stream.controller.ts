import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { decodeCursor, encodeCursor, InvalidQueryError, nowMicros, StoredAuditEvent } from '@app/contracts';
import { parseEventFilter, QUERY_PORT, QueryPort, StreamCursor } from '@app/query';
import { Metrics } from '@app/runtime';
import { RequireScope } from '../http/auth.guard';
import { SseWriter } from '../http/sse-writer';
import { StreamSlots } from '../http/stream-limits';
import { SELF_AUDIT_SOURCE, SelfAuditService } from '../self-audit.service';
import { stripPosition } from './events.controller';
import { requestInfo } from './request-context';

export interface StreamSettings {
  pollMs: number;
  heartbeatMs: number;
  /** Open streams one API key may hold (429 beyond). */
  maxPerKey?: number;
  /** Open streams this process serves in all (429 beyond). */
  maxTotal?: number;
  /** How long a client may leave its socket full before it is dropped with a `dropped` event. */
  stallTimeoutMs?: number;
}

export const STREAM_SETTINGS = Symbol('STREAM_SETTINGS');

export const STREAM_DEFAULTS = { maxPerKey: 10, maxTotal: 200, stallTimeoutMs: 30_000 } as const;

/** Events read from the store per poll: one page is all a stream holds besides its socket buffer. */
const PAGE = 500;

/** The service's own read audits, as the self-audit service writes them. */
const isReadAudit = (e: StoredAuditEvent): boolean => e.event_type === 'api_access' && e.source === SELF_AUDIT_SOURCE;

/** `a` lies beyond `b` on some partition: a position this log has not reached. */
function beyond(a: StreamCursor, b: StreamCursor): number | undefined {
  for (const [p, o] of Object.entries(a)) if (BigInt(o) > BigInt(b[Number(p)] ?? '-1')) return Number(p);
  return undefined;
}

/**
 * Server-Sent Events. Each event's SSE id is the log position just after it, so a client that reconnects
 * with Last-Event-ID resumes exactly there: no gap, no repeat. Every gateway replica polls the query store
 * from the client's own position, so the stream works across replicas and separate processes.
 *
 * Backpressure: frames are written only while the socket takes them; when it is full the rest of the page is
 * let go (the cursor stays on the last frame written) and the stream waits for the socket to drain before it
 * reads again, so a client that does not read costs its socket buffer and nothing more. One that leaves the
 * socket full for stallTimeoutMs gets a last `dropped` event naming the id to resume from, and is closed.
 *
 * The service's own `api_access` events (each stream open is one) are not delivered unless the filter names
 * `event_type=api_access`: otherwise every open would reach every open stream, n opens sending n² frames.
 */
@ApiTags('events')
@Controller('audit/events/stream')
export class StreamController {
  private readonly slots: StreamSlots;

  constructor(
    @Inject(QUERY_PORT) private readonly query: QueryPort,
    @Inject(STREAM_SETTINGS) private readonly settings: StreamSettings,
    private readonly selfAudit: SelfAuditService,
    private readonly metrics: Metrics,
  ) {
    this.slots = new StreamSlots(settings.maxPerKey ?? STREAM_DEFAULTS.maxPerKey, settings.maxTotal ?? STREAM_DEFAULTS.maxTotal);
  }

  @Get()
  @RequireScope('events:read')
  @ApiProduces('text/event-stream')
  @ApiOperation({
    summary:
      'Live events as Server-Sent Events, with the same filters as GET /audit/events; resume with Last-Event-ID (or ?last_event_id=)',
  })
  async stream(@Query() query: Record<string, unknown>, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const info = requestInfo(req);
    const { last_event_id: lastEventQuery, ...filters } = query;
    const { filter } = parseEventFilter(filters, nowMicros(), false);
    const header = req.headers['last-event-id'];
    const resumeFrom =
      typeof header === 'string' && header !== '' ? header : typeof lastEventQuery === 'string' ? lastEventQuery : undefined;
    const asked: StreamCursor | null = resumeFrom !== undefined ? decodeCursor(resumeFrom) : null;
    const tenantId = info.tenantId;
    const end = (await this.query.tail(tenantId, null, filter, 1)).cursor;
    const past = asked === null ? undefined : beyond(asked, end);
    if (past !== undefined) {
      throw new InvalidQueryError(`Last-Event-ID is beyond the end of the log on partition ${past}`, [
        { field: 'Last-Event-ID', message: `the log's end is ${encodeCursor(end) || 'empty'}` },
      ]);
    }
    let cursor: StreamCursor = asked ?? end;
    const release = this.slots.acquire(info.principal.keyId);
    const deliverReadAudits = filter.eventTypes.includes('api_access');
    const stallMs = this.settings.stallTimeoutMs ?? STREAM_DEFAULTS.stallTimeoutMs;

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const out = new SseWriter(raw);
    this.metrics.streamClients.inc();
    this.selfAudit.recordRead(req, tenantId, 'opened the live audit event stream', info);
    out.write(`retry: 2000\nid: ${encodeCursor(cursor)}\nevent: ready\ndata: ${JSON.stringify({ cursor: encodeCursor(cursor) })}\n\n`);

    let lastWrite = Date.now();
    let dropped = false;
    try {
      while (out.open) {
        if ((await out.drain(stallMs)) !== 'drained') {
          dropped = out.open;
          break;
        }
        let page;
        try {
          page = await this.query.tail(tenantId, cursor, filter, PAGE);
        } catch (e) {
          out.write(`event: error\ndata: ${JSON.stringify({ message: (e as Error).message })}\n\n`);
          await new Promise((r) => setTimeout(r, this.settings.pollMs * 4));
          continue;
        }
        const running: StreamCursor = { ...cursor };
        let full = false;
        for (const e of page.events) {
          if (e.position) running[e.position.partition] = e.position.offset;
          if (!deliverReadAudits && isReadAudit(e)) continue;
          lastWrite = Date.now();
          if (!out.write(`id: ${encodeCursor(running)}\ndata: ${JSON.stringify(stripPosition(e))}\n\n`)) {
            full = true;
            break;
          }
        }
        // A full socket lets the rest of the page go: it is read again from `running` once the socket drains.
        cursor = full ? running : page.cursor;
        if (full || page.events.length >= PAGE) continue;
        if (Date.now() - lastWrite >= this.settings.heartbeatMs) {
          out.write(`: heartbeat ${new Date().toISOString()}\n\n`);
          lastWrite = Date.now();
        }
        await new Promise((r) => setTimeout(r, this.settings.pollMs));
      }
    } finally {
      this.metrics.streamClients.dec();
      release();
      if (dropped) this.metrics.streamsDropped.inc();
      const resume = encodeCursor(cursor);
      out.finish(
        dropped
          ? `id: ${resume}\nevent: dropped\ndata: ${JSON.stringify({
              reason: 'slow_client',
              message: `the client read nothing for ${stallMs} ms with its socket full; reconnect with Last-Event-ID to resume`,
              last_event_id: resume,
            })}\n\n`
          : undefined,
        stallMs,
      );
    }
  }
}
