import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { decodeCursor, encodeCursor, nowMicros } from '@app/contracts';
import { parseEventFilter, StreamCursor } from '@app/query';
import { RequireScope } from '../http/auth.guard';
import { Metrics } from '@app/runtime';
import { QUERY_PORT, QueryPort } from '@app/query';
import { SelfAuditService } from '../self-audit.service';
import { stripPosition } from './events.controller';
import { requestInfo } from './request-context';

export interface StreamSettings {
  pollMs: number;
  heartbeatMs: number;
}

export const STREAM_SETTINGS = Symbol('STREAM_SETTINGS');

/**
 * Server-Sent Events. Each event's SSE id is the log position just after it, so a client that reconnects
 * with Last-Event-ID resumes exactly there: no gap, no repeat. Every gateway replica polls the query store
 * from the client's own position, so the stream works across replicas and separate processes.
 */
@ApiTags('events')
@Controller('audit/events/stream')
export class StreamController {
  constructor(
    @Inject(QUERY_PORT) private readonly query: QueryPort,
    @Inject(STREAM_SETTINGS) private readonly settings: StreamSettings,
    private readonly selfAudit: SelfAuditService,
    private readonly metrics: Metrics,
  ) {}

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
    let cursor: StreamCursor | null = resumeFrom !== undefined ? decodeCursor(resumeFrom) : null;
    const tenantId = info.tenantId;
    if (cursor === null) cursor = (await this.query.tail(tenantId, null, filter, 1)).cursor;

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let open = true;
    this.metrics.streamClients.inc();
    req.raw.on('close', () => {
      open = false;
    });
    this.selfAudit.recordRead(req, tenantId, 'opened the live audit event stream', info);
    raw.write(`retry: 2000\nid: ${encodeCursor(cursor)}\nevent: ready\ndata: ${JSON.stringify({ cursor: encodeCursor(cursor) })}\n\n`);

    let lastWrite = Date.now();
    try {
      while (open) {
        let page;
        try {
          page = await this.query.tail(tenantId, cursor, filter, 500);
        } catch (e) {
          raw.write(`event: error\ndata: ${JSON.stringify({ message: (e as Error).message })}\n\n`);
          await new Promise((r) => setTimeout(r, this.settings.pollMs * 4));
          continue;
        }
        const running: StreamCursor = { ...cursor };
        for (const e of page.events) {
          if (!open) break;
          if (e.position) running[e.position.partition] = e.position.offset;
          raw.write(`id: ${encodeCursor(running)}\ndata: ${JSON.stringify(stripPosition(e))}\n\n`);
          lastWrite = Date.now();
        }
        cursor = page.cursor;
        if (page.events.length >= 500) continue;
        if (Date.now() - lastWrite >= this.settings.heartbeatMs) {
          raw.write(`: heartbeat ${new Date().toISOString()}\n\n`);
          lastWrite = Date.now();
        }
        await new Promise((r) => setTimeout(r, this.settings.pollMs));
      }
    } finally {
      this.metrics.streamClients.dec();
      raw.end();
    }
  }
}
