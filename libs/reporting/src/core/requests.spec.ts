import { AuditError } from '@app/contracts';
import { parseExportRequest, parseReportRequest } from './requests';

const NOW = Date.parse('2026-01-01T00:00:00Z') * 1000;
const fields = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AuditError);
    expect((e as AuditError).status).toBe(400);
    return (e as AuditError).details.map((d) => d.field ?? '');
  }
  throw new Error('expected a refusal');
};

describe(parseExportRequest.name, () => {
  it("given the guide's body, then csv with metadata, gzip, every category, the period in microseconds", () => {
    const r = parseExportRequest(
      {
        format: 'csv',
        period: { start: '2025-08-01T00:00:00Z', end: '2025-09-01T23:59:59Z' },
        categories: ['all'],
        include_metadata: true,
        compress: true,
      },
      NOW,
    );
    expect(r).toMatchObject({ format: 'csv', includeMetadata: true, compress: true });
    expect(r.filter.categories).toEqual([]);
    expect(r.filter.fromUs).toBe(Date.parse('2025-08-01T00:00:00Z') * 1000);
    expect(r.filter.toUs).toBe(Date.parse('2025-09-01T23:59:59Z') * 1000);
  });

  it('given search filters, then they are parsed as GET /audit/events parses them (aliases, lists, metadata)', () => {
    const r = parseExportRequest(
      {
        format: 'ndjson',
        period: { start: '2025-01-01', end: '2025-01-31' },
        categories: ['security', 'users'],
        event_type: ['login_failed', 'permission_denied'],
        severity: 'warning,critical',
        'metadata.site_id': 'S1',
        q: 'bad',
      },
      NOW,
    );
    expect(r.filter).toMatchObject({
      categories: ['security_events', 'user_actions'],
      eventTypes: ['login_failed', 'permission_denied'],
      severities: ['warning', 'critical'],
      metadata: [['site_id', 'S1']],
      text: 'bad',
    });
    // A date alone as the end means the whole of that day.
    expect(r.filter.toUs).toBe(Date.parse('2025-02-01T00:00:00Z') * 1000 - 1);
  });

  it.each([
    [{ format: 'xlsx', period: { start: '2025-01-01', end: '2025-01-02' } }, 'format'],
    [{ period: { start: '2025-01-02', end: '2025-01-01' } }, 'period.end'],
    [{ period: { start: '2025-01-01' } }, 'period.end'],
    [{ period: { end: '2025-01-01' } }, 'period.start'],
    [{}, 'period'],
    [{ period: { start: 'yesterday', end: '2025-01-01' } }, 'period.start'],
    [{ period: { start: '2025-01-01', end: '2025-01-02', tz: 'x' } }, 'period.tz'],
    [{ period: { start: '2000-01-01', end: '2025-01-02' } }, 'period'],
    [{ period: { start: '2025-01-01', end: '2025-01-02' }, categories: ['nope'] }, 'categories'],
    [{ period: { start: '2025-01-01', end: '2025-01-02' }, categories: 'all' }, 'categories'],
    [{ period: { start: '2025-01-01', end: '2025-01-02' }, include_metadata: 'yes' }, 'include_metadata'],
    [{ period: { start: '2025-01-01', end: '2025-01-02' }, severity: 'loud' }, 'severity'],
    [{ period: { start: '2025-01-01', end: '2025-01-02' }, unknown: 1 }, 'unknown'],
  ])('given %j, then a 400 naming %s', (body, field) => {
    expect(fields(() => parseExportRequest(body, NOW))).toContain(field);
  });
});

describe(parseReportRequest.name, () => {
  it("given the guide's body, then a compliance report in JSON over two categories", () => {
    const r = parseReportRequest(
      {
        report_type: 'compliance',
        period: { start: '2025-01-01T00:00:00Z', end: '2025-09-01T23:59:59Z' },
        categories: ['security_events', 'user_actions'],
        format: 'json',
      },
      NOW,
    );
    expect(r).toMatchObject({ reportType: 'compliance', format: 'json' });
    expect(r.filter.categories).toEqual(['security_events', 'user_actions']);
  });

  it.each([
    [{ period: { start: '2025-01-01', end: '2025-01-02' } }, 'report_type'],
    [{ report_type: 'audit', period: { start: '2025-01-01', end: '2025-01-02' } }, 'report_type'],
    [{ report_type: 'security', format: 'pdf', period: { start: '2025-01-01', end: '2025-01-02' } }, 'format'],
    [{ report_type: 'security', include_metadata: true, period: { start: '2025-01-01', end: '2025-01-02' } }, 'include_metadata'],
  ])('given %j, then a 400 naming %s', (body, field) => {
    expect(fields(() => parseReportRequest(body, NOW))).toContain(field);
  });
});
