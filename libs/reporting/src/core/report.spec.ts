import { createHash } from 'node:crypto';
import { StoredAuditEvent } from '@app/contracts';
import type { CheckpointView } from '@app/integrity';
import type { ArchiveManifest } from '@app/retention';
import {
  checkpointAbsence,
  CheckpointReading,
  integrityEvidence,
  manifestCheckpoint,
  Reading,
  RetentionAnswers,
  retentionEvidence,
} from './capability-evidence';
import { buildReport, escapeHtml, isOffHours, loggingGaps, ReportAggregator, reportToCsv, reportToHtml, searchUrl } from './report';
import { ReportContext } from './report';

let n = 0;
const ev = (event_type: string, timestamp: string, over: Partial<StoredAuditEvent> = {}): StoredAuditEvent => ({
  schema_version: 1,
  id: `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}`,
  tenant_id: 'default',
  event_type,
  category: 'security_events',
  severity: 'info',
  description: 'd',
  metadata: { user_id: 'alice', resource: '/x' },
  timestamp,
  received_at: timestamp,
  ip_address: '10.0.0.1',
  user_agent: '',
  session_id: '',
  source: 'web',
  idempotency_key: '',
  ...over,
});

const ctx = (over: Partial<ReportContext> = {}): ReportContext => ({
  reportId: 'r1',
  reportType: 'compliance',
  tenantId: 'default',
  filter: { categories: [], eventTypes: [], severities: [], metadata: [], fromUs: 0, toUs: 1e15 },
  categories: [],
  generatedAt: '2026-01-01T00:00:00Z',
  warnings: [],
  ...over,
});

describe(ReportAggregator.name, () => {
  it('given events, then the compliance report counts each control from them and links the search', () => {
    const agg = new ReportAggregator();
    for (let i = 0; i < 7; i++) agg.add(ev('login_failed', `2025-03-0${1 + (i % 5)}T10:00:00.000000Z`));
    agg.add(ev('permission_denied', '2025-03-02T10:00:00.000000Z'));
    const report = buildReport(ctx(), agg) as {
      controls: Array<{
        framework: string;
        control: string;
        evidence_count: number;
        status: string;
        sample: unknown[];
        search_url: string;
      }>;
      summary: Record<string, number>;
    };
    const c = report.controls.find((x) => x.control === '10.2.1.4')!;
    expect(c).toMatchObject({ evidence_count: 8, status: 'satisfied' });
    expect(c.sample).toHaveLength(5);
    expect(c.search_url).toContain('event_type=login_failed%2Cunauthorized_access%2Cpermission_denied');
    expect(report.controls.find((x) => x.control === '10.2.1.6')).toMatchObject({ evidence_count: 0, status: 'gap' });
    expect(report.controls.find((x) => x.control === '10.2.2')).toMatchObject({ evidence_count: 0, status: 'satisfied' });
    expect(Object.values(report.summary).reduce((a, b) => a + b, 0)).toBe(report.controls.length);
  });

  it('given a security report, then failed access by address and user, and off-hours admin activity', () => {
    const agg = new ReportAggregator();
    agg.add(ev('login_failed', '2025-03-03T10:00:00.000000Z', { ip_address: '1.2.3.4' }));
    agg.add(ev('login_failed', '2025-03-03T11:00:00.000000Z', { ip_address: '1.2.3.4' }));
    agg.add(ev('admin_action', '2025-03-03T23:00:00.000000Z'));
    agg.add(ev('admin_action', '2025-03-03T12:00:00.000000Z'));
    const r = buildReport(ctx({ reportType: 'security' }), agg) as {
      failed_or_unauthorized_access: { events: number; top_addresses: unknown };
      off_hours_admin_activity: { events: number };
    };
    expect(r.failed_or_unauthorized_access.events).toBe(2);
    expect(r.failed_or_unauthorized_access.top_addresses).toEqual([{ key: '1.2.3.4', events: 2 }]);
    expect(r.off_hours_admin_activity.events).toBe(1);
  });
});

describe(searchUrl.name, () => {
  it("given a report's filters, then the control's search keeps them all and only the types both allow", () => {
    const url = searchUrl(
      {
        categories: ['security_events'],
        eventTypes: ['login_failed', 'api_access'],
        severities: ['warning'],
        metadata: [['run_id', 'r 1']],
        text: 'x',
        fromUs: 0,
        toUs: 1_000_000,
      },
      ['login_failed', 'permission_denied'],
    );
    const q = new URL(url, 'http://h').searchParams;
    expect(q.get('event_type')).toBe('login_failed');
    expect(q.get('metadata.run_id')).toBe('r 1');
    expect(q.get('severity')).toBe('warning');
    expect(q.get('q')).toBe('x');
    expect(q.get('category')).toBe('security_events');
    expect(q.get('end')).toBe('1970-01-01T00:00:01.000000Z');
  });
});

describe(loggingGaps.name, () => {
  it('given a source sending daily but for one day, then that day is a gap; a rare source is not expected', () => {
    const agg = new ReportAggregator();
    for (const d of ['01', '02', '03', '05', '06']) agg.add(ev('api_access', `2025-03-${d}T10:00:00.000000Z`));
    agg.add(ev('api_access', '2025-03-04T10:00:00.000000Z', { source: 'rare' }));
    expect(loggingGaps(agg)).toEqual([{ source: 'web', day: '2025-03-04' }]);
  });
});

describe(isOffHours.name, () => {
  it('given UTC times, then before 07:00, from 19:00 and weekends are off hours', () => {
    expect(isOffHours('2025-03-03T06:59:59Z')).toBe(true);
    expect(isOffHours('2025-03-03T07:00:00Z')).toBe(false);
    expect(isOffHours('2025-03-03T19:00:00Z')).toBe(true);
    expect(isOffHours('2025-03-08T12:00:00Z')).toBe(true); // a Saturday
  });
});

describe(reportToHtml.name, () => {
  it('given hostile text in the evidence, then the page escapes it and holds no script', () => {
    const agg = new ReportAggregator();
    agg.add(ev('login_failed', '2025-03-03T10:00:00.000000Z', { description: '<img src=x onerror=alert(1)>' }));
    const html = reportToHtml(buildReport(ctx(), agg));
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script');
    expect(escapeHtml(`"'&`)).toBe('&quot;&#39;&amp;');
  });
});

describe(reportToCsv.name, () => {
  it('given a compliance report, then one CRLF record per control after the header', () => {
    const report = buildReport(ctx(), new ReportAggregator()) as { controls: unknown[] };
    const lines = reportToCsv(report).split('\r\n');
    expect(lines[0]).toBe('framework,control,title,status,evidence_count,reason,search_url');
    expect(lines).toHaveLength(report.controls.length + 2);
  });
});

describe('a compliance report with the retention and integrity capabilities', () => {
  const at = new Date('2026-03-01T00:00:00Z');
  const archive = (category: string, day: string, event_count: number) =>
    ({ id: `a-${category}-${day}`, category, day, event_count, object_sha256: 'ab'.repeat(32) }) as unknown as ArchiveManifest;
  const checkpoint: CheckpointView = {
    origin: 'audit.example/default',
    tree_size: 42,
    root_hash: 'cm9vdA==',
    note: 'audit.example/default\n42\ncm9vdA==\n\n— sig\n',
    reason: 'manual',
    created_at: '2026-02-28T12:00:00.000Z',
  };
  const compliance = (retention: Reading<RetentionAnswers>, integrity: CheckpointReading, categories: string[] = []) => {
    const agg = new ReportAggregator();
    agg.add(ev('login_failed', '2025-03-03T10:00:00.000000Z'));
    const filter = {
      categories,
      eventTypes: [],
      severities: [],
      metadata: [],
      fromUs: Date.parse('2025-03-01T00:00:00Z') * 1000,
      toUs: Date.parse('2025-03-31T00:00:00Z') * 1000,
    };
    return buildReport(
      ctx({ filter, categories, retention: retentionEvidence(retention, filter, at), integrity: integrityEvidence(integrity) }),
      agg,
    ) as {
      retention: Record<string, unknown> & { framework_minimums: Array<{ control: string; status: string; reason: string }> };
      integrity: Record<string, unknown>;
      controls: Array<{ control: string; status: string; reason: string }>;
    };
  };
  const policy = (retention_period: string, categories: Record<string, { retention_period: string }> = {}): Reading<RetentionAnswers> => ({
    state: 'ok',
    value: {
      view: { policy: { retention_period, categories }, updated_at: '2026-01-01T00:00:00.000Z', updated_by: 'admin' },
      archives: [
        archive('security_events', '2025-03-02', 10),
        archive('user_actions', '2025-03-04', 5),
        archive('security_events', '2025-05-01', 7),
      ],
    },
  });
  const status = (r: ReturnType<typeof compliance>, control: string) => r.controls.find((c) => c.control === control)!;

  it('given a seven-year policy and a signed checkpoint, then the retention controls are satisfied and both appear', () => {
    const r = compliance(policy('P7Y'), { state: 'ok', value: checkpoint });
    expect(r.retention).toMatchObject({ state: 'in force', effective_days: 2557, updated_by: 'admin' });
    expect(r.retention.archives).toMatchObject({ count: 2, events: 15, first_day: '2025-03-02', last_day: '2025-03-04' });
    for (const c of ['10.5.1', '164.316(b)(2)(i)', '802 / 17 CFR 210.2-06']) expect(status(r, c).status).toBe('satisfied');
    expect(r.retention.framework_minimums.map((f) => f.status)).toEqual(['satisfied', 'satisfied', 'satisfied', 'satisfied']);
    expect(r.integrity).toMatchObject({
      state: 'signed',
      latest_checkpoint: { tree_size: 42, root_hash: 'cm9vdA==', note: checkpoint.note },
    });
  });

  it('given a one-year policy with a shorter category, then PCI is a gap for the report over that category and HIPAA and SOX are gaps', () => {
    const r = compliance(policy('P1Y', { user_actions: { retention_period: 'P90D' } }), { state: 'ok', value: null });
    expect(r.retention).toMatchObject({ effective_days: 90, days_by_category: { default: 365, user_actions: 90 } });
    expect(status(r, '10.5.1')).toMatchObject({ status: 'gap', reason: 'retention 90 days < minimum 365 (P1Y)' });
    expect(status(r, '164.316(b)(2)(i)').status).toBe('gap');
    expect(r.integrity).toEqual({ state: 'no checkpoint signed yet' });
    const security = compliance(policy('P1Y', { user_actions: { retention_period: 'P90D' } }), { state: 'ok', value: null }, [
      'security_events',
    ]);
    expect(status(security, '10.5.1').status).toBe('satisfied');
    expect(security.retention.archives).toMatchObject({ count: 1, events: 10 });
  });

  it('given the capabilities off or not answering, then the report says so and never "not configured"', () => {
    const off = compliance({ state: 'off' }, { state: 'off' });
    expect(off.retention).toMatchObject({ state: 'capability off' });
    expect(off.integrity).toEqual({ state: 'capability off' });
    expect(status(off, '10.5.1')).toEqual(expect.objectContaining({ status: 'insufficient_data', reason: 'retention: capability off' }));
    const down = compliance({ state: 'unavailable', reason: 'connect ECONNREFUSED' }, { state: 'unavailable', reason: 'timed out' });
    expect(down.retention).toMatchObject({ state: 'unavailable: connect ECONNREFUSED' });
    expect(down.integrity).toEqual({ state: 'unavailable: timed out' });
    expect(JSON.stringify(down)).not.toContain('not configured');
    const none = compliance({ state: 'ok', value: { view: { policy: null }, archives: [] } }, { state: 'ok', value: null });
    expect(status(none, '10.5.1')).toMatchObject({ status: 'insufficient_data', reason: 'retention: no policy set for this tenant' });
  });

  it('given a checkpoint, then a manifest cites it by size, root and the hash of its note; else null and why', () => {
    expect(manifestCheckpoint({ state: 'ok', value: checkpoint })).toEqual({
      origin: checkpoint.origin,
      tree_size: 42,
      root_hash: 'cm9vdA==',
      created_at: checkpoint.created_at,
      note_sha256: createHash('sha256').update(checkpoint.note).digest('hex'),
    });
    expect(checkpointAbsence({ state: 'ok', value: checkpoint })).toBeUndefined();
    expect(manifestCheckpoint({ state: 'off' })).toBeNull();
    expect(checkpointAbsence({ state: 'off' })).toBe('capability off');
    expect(checkpointAbsence({ state: 'ok', value: null })).toBe('no checkpoint signed yet');
  });
});
