import { formatMicros, StoredAuditEvent } from '@app/contracts';
import { EventFilter } from '@app/query';
import { RetentionStanding } from './capability-evidence';
import { ControlDefinition, CONTROLS, ControlStatus, controlStatus, lacksRequiredFields } from './compliance';
import { csvRecord } from './csv';
import { ReportType } from './requests';

/** Rows shown per control (the search URL returns all of them). */
export const SAMPLE_ROWS = 5;
/** Distinct keys kept per breakdown (users, addresses...): beyond it, new keys are counted under "(other)". */
export const MAX_KEYS = 10_000;
const INVALID_ACCESS = new Set(['login_failed', 'unauthorized_access', 'permission_denied']);
const ADMIN = new Set(['admin_action', 'config_updated', 'permission_changed', 'user_created', 'user_deleted', 'site_config_changed']);

class Counter {
  readonly counts = new Map<string, number>();
  add(key: string, n = 1): void {
    const k = this.counts.has(key) || this.counts.size < MAX_KEYS ? key : '(other)';
    this.counts.set(k, (this.counts.get(k) ?? 0) + n);
  }
  top(n: number): Array<{ key: string; events: number }> {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([key, events]) => ({ key, events }));
  }
  object(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }
}

export interface SampleRow {
  id: string;
  timestamp: string;
  event_type: string;
  user: string;
  source: string;
  ip_address: string;
  resource: string;
  description: string;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

function userOf(e: StoredAuditEvent): string {
  return str(e.metadata?.user_id ?? e.metadata?.operator_id ?? e.metadata?.actor);
}

function sample(e: StoredAuditEvent): SampleRow {
  const m = e.metadata ?? {};
  return {
    id: e.id,
    timestamp: e.timestamp,
    event_type: e.event_type,
    user: userOf(e),
    source: e.source,
    ip_address: e.ip_address,
    resource: str(m.resource ?? m.device_id ?? m.site_id ?? m.job_id ?? m.path),
    description: e.description,
  };
}

/**
 * Everything a report needs, gathered in one pass over the period (events arrive in time order): counts by
 * key with bounded maps, and the first rows of each control. Memory is bounded by MAX_KEYS, not by the events.
 */
export class ReportAggregator {
  total = 0;
  incompleteRecords = 0;
  first?: string;
  last?: string;
  readonly byType = new Counter();
  readonly byCategory = new Counter();
  readonly bySeverity = new Counter();
  readonly bySource = new Counter();
  readonly byDay = new Counter();
  readonly byUser = new Counter();
  readonly bySite = new Counter();
  readonly byDevice = new Counter();
  readonly sourceDays = new Counter();
  readonly failedByAddress = new Counter();
  readonly failedByUser = new Counter();
  failedAccess = 0;
  offHoursAdmin = 0;
  readonly offHoursSamples: SampleRow[] = [];
  readonly failedSamples: SampleRow[] = [];
  readonly samples = new Map<string, SampleRow[]>();

  add(e: StoredAuditEvent): void {
    this.total++;
    this.first ??= e.timestamp;
    this.last = e.timestamp;
    const day = e.timestamp.slice(0, 10);
    this.byType.add(e.event_type);
    this.byCategory.add(e.category);
    this.bySeverity.add(e.severity);
    this.bySource.add(e.source || '(none)');
    this.byDay.add(day);
    this.sourceDays.add(`${e.source || '(none)'}\u0000${day}`);
    const user = userOf(e);
    if (user) this.byUser.add(user);
    if (typeof e.metadata?.site_id === 'string') this.bySite.add(e.metadata.site_id);
    if (typeof e.metadata?.device_id === 'string') this.byDevice.add(e.metadata.device_id);
    if (lacksRequiredFields(e)) this.incompleteRecords++;
    if (INVALID_ACCESS.has(e.event_type)) {
      this.failedAccess++;
      this.failedByAddress.add(e.ip_address || '(none)');
      this.failedByUser.add(user || '(none)');
      if (this.failedSamples.length < SAMPLE_ROWS) this.failedSamples.push(sample(e));
    }
    if (ADMIN.has(e.event_type) && isOffHours(e.timestamp)) {
      this.offHoursAdmin++;
      if (this.offHoursSamples.length < SAMPLE_ROWS) this.offHoursSamples.push(sample(e));
    }
    for (const c of CONTROLS) {
      if (!c.eventTypes.includes(e.event_type)) continue;
      const k = controlKey(c);
      const list = this.samples.get(k) ?? [];
      if (list.length < SAMPLE_ROWS) list.push(sample(e));
      this.samples.set(k, list);
    }
  }
}

/**
 * A compliance report's aggregator filled from the store's GROUP BY counts (QueryPort.reportCounts) and the
 * sample rows of each control (a few small reads), instead of every event: the fields buildReport reads for
 * a compliance report (totals, first and last, by type, source and day, incomplete records, samples) hold the
 * same values as after add() over the same events.
 */
export function aggregatorFromCounts(
  counts: {
    total: number;
    first: string | null;
    last: string | null;
    groups: Array<{ event_type: string; source: string; day: string; events: number; incomplete: number }>;
  },
  samples: Map<string, StoredAuditEvent[]>,
): ReportAggregator {
  const agg = new ReportAggregator();
  agg.total = counts.total;
  agg.first = counts.first ?? undefined;
  agg.last = counts.last ?? undefined;
  for (const g of counts.groups) {
    const source = g.source || '(none)';
    agg.byType.add(g.event_type, g.events);
    agg.bySource.add(source, g.events);
    agg.byDay.add(g.day, g.events);
    agg.sourceDays.add(`${source}\u0000${g.day}`, g.events);
    agg.incompleteRecords += g.incomplete;
  }
  for (const [key, events] of samples) agg.samples.set(key, events.slice(0, SAMPLE_ROWS).map(sample));
  return agg;
}

/** Off hours: before 07:00 or from 19:00 UTC, or on a Saturday or Sunday (UTC; the report says so). */
export function isOffHours(timestamp: string): boolean {
  const d = new Date(timestamp);
  const h = d.getUTCHours();
  const wd = d.getUTCDay();
  return h < 7 || h >= 19 || wd === 0 || wd === 6;
}

export const controlKey = (c: ControlDefinition): string => `${c.framework} ${c.control}`;

export interface LoggingGap {
  source: string;
  day: string;
}

/**
 * Days on which a source that normally sends sent nothing: a source seen on at least 3 days and at least half
 * of the days that have any event is "normally sending"; each such day without it is a gap (a finding).
 */
export function loggingGaps(agg: ReportAggregator, limit = 1000): LoggingGap[] {
  const days = [...agg.byDay.counts.keys()].sort();
  if (days.length < 3) return [];
  const perSource = new Map<string, Set<string>>();
  for (const key of agg.sourceDays.counts.keys()) {
    const [source, day] = key.split('\u0000');
    if (day === undefined) continue;
    (perSource.get(source) ?? perSource.set(source, new Set()).get(source)!).add(day);
  }
  // Every calendar day between the first and last day seen: a day with no events at all is a gap too.
  const all: string[] = [];
  for (let t = Date.parse(`${days[0]}T00:00:00Z`); t <= Date.parse(`${days.at(-1)}T00:00:00Z`); t += 86_400_000) {
    all.push(new Date(t).toISOString().slice(0, 10));
  }
  const gaps: LoggingGap[] = [];
  for (const [source, seen] of [...perSource.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (seen.size < 3 || seen.size * 2 < all.length) continue;
    for (const day of all) if (!seen.has(day) && gaps.length < limit) gaps.push({ source, day });
  }
  return gaps;
}

export interface ReportContext {
  reportId: string;
  reportType: ReportType;
  tenantId: string;
  filter: EventFilter;
  categories: string[];
  generatedAt: string;
  warnings: string[];
  /** Compliance only: the retention section (retentionEvidence) and the standing its controls are computed from. */
  retention?: { section: Record<string, unknown>; standing: RetentionStanding };
  /** Compliance only: the integrity section (integrityEvidence). */
  integrity?: Record<string, unknown>;
}

export interface ControlReport {
  framework: string;
  control: string;
  title: string;
  status: ControlStatus;
  reason: string;
  evidence_count: number;
  event_types: string[];
  sample: SampleRow[];
  search_url: string | null;
}

/**
 * A filter in the search API's own parameters (GET /audit/events): what a manifest states as the export's
 * filter, and the base of a control's search URL. `eventTypes` replaces the filter's event types.
 */
export function searchParamsOf(filter: EventFilter, eventTypes: string[] = filter.eventTypes): URLSearchParams {
  const q = new URLSearchParams();
  if (filter.categories.length > 0) q.set('category', filter.categories.join(','));
  if (eventTypes.length > 0) q.set('event_type', eventTypes.join(','));
  if (filter.severities.length > 0) q.set('severity', filter.severities.join(','));
  if (filter.fromUs !== undefined) q.set('start', formatMicros(filter.fromUs));
  if (filter.toUs !== undefined) q.set('end', formatMicros(filter.toUs));
  for (const [k, v] of filter.metadata) q.append(`metadata.${k}`, v);
  if (filter.text !== undefined) q.set('q', filter.text);
  if (filter.source !== undefined) q.set('source', filter.source);
  if (filter.ipAddress !== undefined) q.set('ip_address', filter.ipAddress);
  if (filter.sessionId !== undefined) q.set('session_id', filter.sessionId);
  return q;
}

/** The search parameters as a JSON object, a repeated one (a metadata key given twice) as a list. */
export function searchParamsObject(q: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(q.keys())) {
    const all = q.getAll(key);
    out[key] = all.length === 1 ? all[0] : all;
  }
  return out;
}

/**
 * The GET /audit/events query that returns every evidence row of a control in the report's scope: the
 * report's own filters (categories, period, severities, metadata, text...) and the control's event types
 * (those of them the report's event_type filter keeps, if it has one).
 */
export function searchUrl(filter: EventFilter, eventTypes: string[]): string {
  const types = filter.eventTypes.length > 0 ? eventTypes.filter((t) => filter.eventTypes.includes(t)) : eventTypes;
  // Always named, even when none of the control's types is left: the search then returns nothing, as it should.
  return `/audit/events?${searchParamsOf(filter, types.length > 0 ? types : ['']).toString()}`;
}

export function buildReport(ctx: ReportContext, agg: ReportAggregator): Record<string, unknown> {
  const scope = {
    report_id: ctx.reportId,
    report_type: ctx.reportType,
    tenant_id: ctx.tenantId,
    period: {
      start: ctx.filter.fromUs !== undefined ? formatMicros(ctx.filter.fromUs) : null,
      end: ctx.filter.toUs !== undefined ? formatMicros(ctx.filter.toUs) : null,
    },
    categories: ctx.categories.length > 0 ? ctx.categories : ['all'],
    generated_at: ctx.generatedAt,
    events_in_scope: agg.total,
    first_event: agg.first ?? null,
    last_event: agg.last ?? null,
    sources_seen: Object.keys(agg.bySource.object()),
    warnings: ctx.warnings,
  };
  if (ctx.reportType === 'security') {
    return {
      ...scope,
      failed_or_unauthorized_access: {
        events: agg.failedAccess,
        by_type: Object.fromEntries([...INVALID_ACCESS].map((t) => [t, agg.byType.counts.get(t) ?? 0])),
        top_addresses: agg.failedByAddress.top(10),
        top_users: agg.failedByUser.top(10),
        sample: agg.failedSamples,
      },
      top_sources: agg.bySource.top(10),
      top_users: agg.byUser.top(10),
      off_hours_admin_activity: {
        definition: 'before 07:00 or from 19:00 UTC, or a weekend',
        events: agg.offHoursAdmin,
        sample: agg.offHoursSamples,
      },
      by_severity: agg.bySeverity.object(),
    };
  }
  if (ctx.reportType === 'activity') {
    return {
      ...scope,
      by_category: agg.byCategory.object(),
      by_event_type: agg.byType.object(),
      by_site: agg.bySite.top(50),
      by_device: agg.byDevice.top(50),
      by_user: agg.byUser.top(50),
      by_day: agg.byDay.object(),
    };
  }
  const controls: ControlReport[] = CONTROLS.map((c) => {
    const count =
      c.kind === 'record_fields' ? agg.incompleteRecords : c.eventTypes.reduce((n, t) => n + (agg.byType.counts.get(t) ?? 0), 0);
    const result = controlStatus(c, { count, totalEvents: agg.total, categories: ctx.categories, retention: ctx.retention?.standing });
    return {
      framework: c.framework,
      control: c.control,
      title: c.title,
      status: result.status,
      reason: result.reason,
      evidence_count: count,
      event_types: c.eventTypes,
      sample: agg.samples.get(controlKey(c)) ?? [],
      search_url: c.eventTypes.length > 0 ? searchUrl(ctx.filter, c.eventTypes) : null,
    };
  });
  const summary: Record<string, number> = { satisfied: 0, gap: 0, not_applicable: 0, insufficient_data: 0 };
  for (const c of controls) summary[c.status]++;
  return {
    ...scope,
    framework_versions: {
      'PCI DSS': 'v4.0.1',
      'SOC 2': 'TSC 2017 (rev. 2022)',
      HIPAA: '45 CFR 164',
      SOX: '17 CFR 210.2-06',
      GDPR: '2016/679',
    },
    retention: {
      ...(ctx.retention?.section ?? { state: 'not read' }),
      // The policy against each framework's minimum: the retention controls, as in `controls`.
      framework_minimums: CONTROLS.flatMap((c, i) =>
        c.kind === 'retention'
          ? [
              {
                framework: c.framework,
                control: c.control,
                minimum: c.minimumPeriod ?? null,
                status: controls[i].status,
                reason: controls[i].reason,
              },
            ]
          : [],
      ),
    },
    integrity: ctx.integrity ?? { state: 'not read' },
    summary,
    controls,
    logging_gaps: loggingGaps(agg),
    evidence_by_event_type: agg.byType.object(),
  };
}

/** The report as CSV: one record per control (compliance) or per counted key (security, activity). */
export function reportToCsv(report: Record<string, unknown>): string {
  if (Array.isArray(report.controls)) {
    const rows = [csvRecord(['framework', 'control', 'title', 'status', 'evidence_count', 'reason', 'search_url'])];
    for (const c of report.controls as ControlReport[]) {
      rows.push(csvRecord([c.framework, c.control, c.title, c.status, String(c.evidence_count), c.reason, c.search_url ?? '']));
    }
    return rows.join('');
  }
  const rows = [csvRecord(['section', 'key', 'events'])];
  const walk = (section: string, v: unknown): void => {
    if (Array.isArray(v))
      for (const x of v as Array<{ key?: string; events?: number }>)
        if (x.key !== undefined) rows.push(csvRecord([section, x.key, String(x.events)]));
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === 'number') rows.push(csvRecord([section, k, String(x)]));
        else if (k !== 'sample') walk(`${section}.${k}`, x);
      }
    }
  };
  for (const [k, v] of Object.entries(report)) {
    if (typeof v === 'number') rows.push(csvRecord(['scope', k, String(v)]));
    else walk(k, v);
  }
  return rows.join('');
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (ch) => ESC[ch]);
}

/** A self-contained page (inline CSS, no script, no external resource) a person can read and print. */
export function reportToHtml(report: Record<string, unknown>): string {
  const title = `HOMEPOT Audit ${escapeHtml(report.report_type)} report`;
  const period = report.period as { start: string | null; end: string | null };
  const parts: string[] = [];
  parts.push(
    `<h1>${title}</h1><p>Tenant ${escapeHtml(report.tenant_id)}; period ${escapeHtml(period.start)} to ${escapeHtml(period.end)}; categories ${escapeHtml((report.categories as string[]).join(', '))}; generated ${escapeHtml(report.generated_at)}; ${escapeHtml(report.events_in_scope)} events.</p>`,
  );
  for (const w of report.warnings as string[]) parts.push(`<p class="warn">Warning: ${escapeHtml(w)}</p>`);
  if (Array.isArray(report.controls)) {
    parts.push(
      '<table><thead><tr><th>Framework</th><th>Control</th><th>Title</th><th>Status</th><th>Evidence</th><th>Reason</th></tr></thead><tbody>',
    );
    for (const c of report.controls as ControlReport[]) {
      parts.push(
        `<tr class="${escapeHtml(c.status)}"><td>${escapeHtml(c.framework)}</td><td>${escapeHtml(c.control)}</td><td>${escapeHtml(c.title)}</td><td>${escapeHtml(c.status)}</td><td>${c.evidence_count}</td><td>${escapeHtml(c.reason)}${c.search_url ? `<br><code>${escapeHtml(c.search_url)}</code>` : ''}</td></tr>`,
      );
      if (c.sample.length > 0) {
        parts.push(
          `<tr><td></td><td colspan="5"><table class="sample">${c.sample.map((s) => `<tr><td>${escapeHtml(s.timestamp)}</td><td>${escapeHtml(s.event_type)}</td><td>${escapeHtml(s.user)}</td><td>${escapeHtml(s.ip_address)}</td><td>${escapeHtml(s.resource)}</td><td>${escapeHtml(s.description)}</td></tr>`).join('')}</table></td></tr>`,
        );
      }
    }
    parts.push('</tbody></table>');
    const gaps = report.logging_gaps as LoggingGap[];
    parts.push(
      `<h2>Logging gaps</h2>${gaps.length === 0 ? '<p>None found.</p>' : `<ul>${gaps.map((g) => `<li>${escapeHtml(g.source)}: no events on ${escapeHtml(g.day)}</li>`).join('')}</ul>`}`,
    );
    parts.push(`<h2>Retention</h2><pre>${escapeHtml(JSON.stringify(report.retention, null, 2))}</pre>`);
    parts.push(`<h2>Integrity</h2><pre>${escapeHtml(JSON.stringify(report.integrity, null, 2))}</pre>`);
  } else {
    parts.push(`<pre>${escapeHtml(JSON.stringify(report, null, 2))}</pre>`);
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title><style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:4px;vertical-align:top;text-align:left}.gap{background:#fdd}.satisfied{background:#dfd}.insufficient_data{background:#ffd}.warn{color:#a00}.sample td{font-size:12px;border-color:#ccc}@media print{tr{page-break-inside:avoid}}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
