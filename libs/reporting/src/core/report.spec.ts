import { StoredAuditEvent } from '@app/contracts';
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
