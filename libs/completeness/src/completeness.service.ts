import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { formatMicros, parseTimestampMicros } from '@app/contracts';
import { IngestPort } from '@app/ingest';
import { ComponentHealth, ConsumedEvent, Metrics } from '@app/runtime';
import { CompletenessSettings } from './completeness.config';
import { CompletenessPort, SourceView } from './completeness.port';
import { CompletenessStore } from './completeness.store';
import { checkSilence, Finding, missingCount, observe, SourceState } from './core/tracker';

export const GAP_EVENT_TYPE = 'logging_gap_detected';
export const GAP_CLOSED_EVENT_TYPE = 'logging_gap_closed';
export const DUPLICATE_EVENT_TYPE = 'logging_duplicate_detected';
export const SILENT_EVENT_TYPE = 'logging_source_silent';

/** Sources named in metric labels; the rest share `_other`, so a producer inventing sources cannot grow the series. */
export const METRIC_SOURCE_CAP = 50;

/** Prometheus series of the tracker; `source` label values are capped at METRIC_SOURCE_CAP. */
class CompletenessMetrics {
  private readonly named = new Set<string>();
  readonly gaps: Counter;
  readonly duplicates: Counter;
  readonly late: Counter;
  readonly silent: Counter;
  readonly gapsOpen: Gauge;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.gaps = new Counter({
      name: 'audit_source_gaps_total',
      help: 'Sequence gaps detected, by source (capped)',
      labelNames: ['source'],
      registers,
    });
    this.duplicates = new Counter({
      name: 'audit_source_duplicates_total',
      help: 'Sequences seen again with another event id, by source (capped)',
      labelNames: ['source'],
      registers,
    });
    this.late = new Counter({
      name: 'audit_source_late_events_total',
      help: 'Events that arrived inside an open gap',
      labelNames: ['source'],
      registers,
    });
    this.silent = new Counter({
      name: 'audit_source_silences_total',
      help: 'Times a source went silent beyond its usual interval',
      labelNames: ['source'],
      registers,
    });
    this.gapsOpen = new Gauge({ name: 'audit_source_gaps_open', help: 'Open sequence gaps over every tracked source', registers });
  }

  label(source: string): string {
    if (this.named.has(source)) return source;
    if (this.named.size < METRIC_SOURCE_CAP) {
      this.named.add(source);
      return source;
    }
    return '_other';
  }
}

const keyOf = (tenantId: string, source: string) => createHash('sha256').update(`${tenantId}\u0000${source}`).digest('hex').slice(0, 24);

/** A finding as an audit event (no source, no sequence: it is never tracked itself, so it cannot loop). */
export function findingEvent(
  source: string,
  tenantKey: string,
  finding: Finding,
  detectedAtUs: number,
): Record<string, unknown> | undefined {
  const detected_at = formatMicros(detectedAtUs);
  const base = { category: 'system_events', description: '' };
  switch (finding.kind) {
    case 'gap':
      return {
        ...base,
        event_type: GAP_EVENT_TYPE,
        severity: 'warning',
        description: `Source ${source} skipped sequences ${finding.from}-${finding.to}: ${finding.to - finding.from + 1} events missing`,
        metadata: {
          gap_source: source,
          missing_from: finding.from,
          missing_to: finding.to,
          missing: finding.to - finding.from + 1,
          detected_at,
        },
        idempotency_key: `completeness:gap:${tenantKey}:${finding.from}-${finding.to}`,
      };
    case 'gap_closed':
      return {
        ...base,
        event_type: GAP_CLOSED_EVENT_TYPE,
        severity: 'info',
        description: `Source ${source}: the late events ${finding.from}-${finding.to} arrived, the gap is closed`,
        metadata: { gap_source: source, missing_from: finding.from, missing_to: finding.to, detected_at },
        idempotency_key: `completeness:closed:${tenantKey}:${finding.from}-${finding.to}`,
      };
    case 'duplicate':
      return {
        ...base,
        event_type: DUPLICATE_EVENT_TYPE,
        severity: 'warning',
        description: `Source ${source} sent sequence ${finding.sequence} again with another event id`,
        metadata: {
          gap_source: source,
          sequence: finding.sequence,
          event_id: finding.id,
          previous_event_id: finding.previousId,
          detected_at,
        },
        idempotency_key: `completeness:dup:${tenantKey}:${finding.sequence}:${finding.id}`,
      };
    case 'silent':
      return {
        ...base,
        event_type: SILENT_EVENT_TYPE,
        severity: 'warning',
        description: `Source ${source} sent nothing for ${Math.round(finding.silentForMs / 1000)} s (usually every ${Math.round(finding.meanIntervalMs)} ms)`,
        metadata: {
          gap_source: source,
          last_seen_at: formatMicros(finding.sinceUs),
          silent_for_ms: Math.round(finding.silentForMs),
          usual_interval_ms: Math.round(finding.meanIntervalMs),
          detected_at,
        },
        idempotency_key: `completeness:silent:${tenantKey}:${finding.sinceUs}`,
      };
    default:
      return undefined;
  }
}

export function sourceView(source: string, s: SourceState): SourceView {
  return {
    source,
    first_sequence: s.first,
    last_sequence: s.last,
    last_seen_at: formatMicros(s.lastSeenUs),
    events: s.events,
    gaps_open: s.gaps.map(([from, to]) => ({ from, to })),
    missing: missingCount(s),
    gaps_detected: s.gapsDetected,
    duplicates: s.duplicates,
    usual_interval_ms: s.meanIntervalMs === null ? null : Math.round(s.meanIntervalMs),
    silent_since: s.silentSinceUs === null ? null : formatMicros(s.silentSinceUs),
  };
}

/**
 * Consumes the log (group audit.completeness.v1): folds each sequenced event into its source's state, writes the
 * findings as audit events through ingest (idempotency keys make a redelivered batch write none twice), then
 * saves the state. Findings are written before the state, so a crash between the two repeats them harmlessly.
 */
export class CompletenessService implements CompletenessPort {
  private readonly metrics: CompletenessMetrics;

  constructor(
    private readonly store: CompletenessStore,
    private readonly options: {
      settings: CompletenessSettings;
      ingest: () => IngestPort;
      logger: Logger;
      metrics: Metrics;
      now?: () => number;
    },
  ) {
    this.metrics = new CompletenessMetrics(options.metrics);
  }

  async handle(batch: ConsumedEvent[]): Promise<void> {
    const bySource = new Map<string, { tenantId: string; source: string; events: ConsumedEvent[] }>();
    for (const e of batch) {
      if (e.event.sequence === undefined || e.event.source === '') continue;
      const k = `${e.event.tenant_id}\u0000${e.event.source}`;
      let entry = bySource.get(k);
      if (!entry) bySource.set(k, (entry = { tenantId: e.event.tenant_id, source: e.event.source, events: [] }));
      entry.events.push(e);
    }
    for (const { tenantId, source, events } of bySource.values()) {
      await this.store.transaction(async (m) => {
        let state = await this.store.load(m, tenantId, source);
        const findings: Finding[] = [];
        for (const e of events) {
          const step = observe(state, {
            id: e.event.id,
            sequence: e.event.sequence as number,
            receivedAtUs: parseTimestampMicros(e.event.received_at) ?? this.nowUs(),
            partition: e.partition,
            offset: e.offset,
          });
          state = step.state;
          findings.push(...step.findings);
        }
        await this.report(tenantId, source, findings);
        await this.store.save(m, tenantId, source, state as SourceState);
      });
    }
    await this.refreshGauge();
  }

  /** Marks the sources that went silent and reports each once. */
  async checkSilence(): Promise<void> {
    const nowUs = this.nowUs();
    for (const s of await this.store.quiet(this.options.settings.silenceMinimumMs)) {
      const step = checkSilence(s.state, nowUs, {
        factor: this.options.settings.silenceFactor,
        minimumMs: this.options.settings.silenceMinimumMs,
      });
      if (step.findings.length === 0) continue;
      await this.report(s.tenantId, s.source, step.findings);
      await this.store.transaction(async (m) => {
        // The consumer may have moved the state on meanwhile: only the silence mark is applied to what is stored now.
        const current = await this.store.load(m, s.tenantId, s.source);
        if (current && current.lastSeenUs === s.state.lastSeenUs) await this.store.save(m, s.tenantId, s.source, step.state);
      });
    }
  }

  async sources(tenantId: string): Promise<SourceView[]> {
    return (await this.store.list(tenantId)).map((s) => sourceView(s.source, s.state));
  }

  async health(): Promise<ComponentHealth> {
    return { ok: true, detail: await this.store.totals() };
  }

  private nowUs(): number {
    return (this.options.now?.() ?? Date.now()) * 1000;
  }

  private async refreshGauge(): Promise<void> {
    this.metrics.gapsOpen.set((await this.store.totals()).gaps_open);
  }

  private async report(tenantId: string, source: string, findings: Finding[]): Promise<void> {
    if (findings.length === 0) return;
    const label = this.metrics.label(source);
    const events: Array<Record<string, unknown>> = [];
    const key = keyOf(tenantId, source);
    for (const f of findings) {
      if (f.kind === 'gap') this.metrics.gaps.inc({ source: label });
      else if (f.kind === 'duplicate') this.metrics.duplicates.inc({ source: label });
      else if (f.kind === 'late') this.metrics.late.inc({ source: label });
      else if (f.kind === 'silent') this.metrics.silent.inc({ source: label });
      const e = findingEvent(source, key, f, this.nowUs());
      if (e) events.push(e);
    }
    if (events.length === 0) return;
    this.options.logger.warn({ tenant: tenantId, source, findings: findings.map((f) => f.kind) }, 'completeness findings');
    // A failure throws: the batch is retried (the events carry idempotency keys), so no finding is lost.
    const res = await this.options.ingest().ingest({ events, batch: true, tenantId });
    const refused = res.results.filter((r) => r.status !== 'accepted' && r.status !== 'duplicate');
    if (refused.length > 0) this.options.logger.error({ tenant: tenantId, source, refused }, 'completeness audit events were refused');
  }
}
