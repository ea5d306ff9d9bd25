import { Logger } from '@nestjs/common';
import { FastifyRequest } from 'fastify';
import type { IngestPort } from '@app/ingest';

/** The `source` of every event the service writes about itself. */
export const SELF_AUDIT_SOURCE = 'homepot-audit';

export interface SelfAuditEvent {
  tenantId: string;
  eventType: 'api_access' | 'unauthorized_access' | 'permission_denied' | 'admin_action' | 'config_updated';
  description: string;
  ipAddress?: string;
  userAgent?: string;
  metadata: Record<string, string | number | boolean | null>;
}

/**
 * The service audits itself: denials, reads of the log and configuration changes become events on the same
 * log. They go through the normal ingest port, are never themselves audited (no feedback loop), and denials
 * are rate-limited per client address so a flood of bad requests cannot flood the log.
 */
export class SelfAuditService {
  private readonly logger = new Logger(SelfAuditService.name);
  private readonly denials = new Map<string, { windowStart: number; count: number; suppressed: number }>();

  constructor(
    private readonly ingest: IngestPort,
    private readonly auditReads: boolean,
    private readonly maxDenialsPerMinute = 30,
  ) {}

  /** A read of the log, recorded as api_access (reads are part of the trail under PCI DSS 10.2). */
  recordRead(
    req: Pick<FastifyRequest, 'url' | 'method'>,
    tenantId: string,
    description: string,
    who: { ipAddress: string; userAgent?: string; principal: { name: string } },
    extra: Record<string, string | number> = {},
  ): void {
    if (!this.auditReads) return;
    const [path, query = ''] = req.url.split('?');
    this.record({
      tenantId,
      eventType: 'api_access',
      description,
      ipAddress: who.ipAddress,
      userAgent: who.userAgent,
      metadata: { method: req.method, path: path.slice(0, 256), query: query.slice(0, 512), api_key: who.principal.name, ...extra },
    });
  }

  record(e: SelfAuditEvent): void {
    if (e.eventType === 'unauthorized_access' || e.eventType === 'permission_denied') {
      const key = `${e.ipAddress ?? ''}/${e.eventType}`;
      const now = Date.now();
      let w = this.denials.get(key);
      if (!w || now - w.windowStart > 60_000) {
        if (w && w.suppressed > 0) e.metadata.suppressed_in_previous_minute = w.suppressed;
        w = { windowStart: now, count: 0, suppressed: 0 };
        if (this.denials.size > 10_000) this.denials.clear();
        this.denials.set(key, w);
      }
      if (++w.count > this.maxDenialsPerMinute) {
        w.suppressed++;
        return;
      }
    }
    this.ingest
      .ingest({
        events: [{ event_type: e.eventType, description: e.description, metadata: e.metadata, source: SELF_AUDIT_SOURCE }],
        batch: false,
        tenantId: e.tenantId,
        ipAddress: e.ipAddress,
        userAgent: e.userAgent,
      })
      .catch((err: unknown) => this.logger.warn(`self-audit event ${e.eventType} not recorded: ${(err as Error).message}`));
  }
}
