import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { newRunId, postEvents, request, waitForTotal } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';

interface Job {
  id: string;
  state: string;
  status_url: string;
  download_url: string | null;
  progress: { rows_done: number; rows_expected: number | null };
  file: { sha256: string; size: number } | null;
  error: string | null;
}

/**
 * Exports and reports in the distributed mode: the gateway's controller calls apps/reporting over TCP, which
 * reads the query-store over TCP and writes data_exported through the ingest-gateway onto Kafka.
 */
describe('reporting (distributed)', () => {
  // Pages of 500 rows: the export's 1200 rows cross the query port over TCP in three pages.
  const suite = useClusterSuite({ name: 'reporting', reportingEnv: { AUDIT_REPORT_PAGE_ROWS: '500' } });
  const runId = newRunId('reporting');
  const gw = (): string => suite.cluster.gatewayUrl();

  const done = async (url: string): Promise<Job> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await request<Job>(`${gw()}${url}`);
      expect(r.status).toBe(200);
      if (r.body.state === 'done') return r.body;
      if (r.body.state === 'failed') throw new Error(`job failed: ${r.body.error}`);
      if (Date.now() > deadline) throw new Error(`${url} not done: ${JSON.stringify(r.body)}\n${suite.cluster.logs()}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  };

  beforeAll(async () => {
    const events = Array.from({ length: 1200 }, (_, i) => ({
      event_type: i % 3 === 0 ? 'login_failed' : 'api_access',
      description: i === 0 ? '=HYPERLINK("http://x")' : `event ${i}`,
      metadata: { run_id: runId, i, user_id: `u${i % 5}`, resource: '/r' },
      timestamp: `2025-06-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00.000000Z`,
    }));
    const r = await postEvents(gw(), events);
    expect(r.status).toBe(201);
    expect(await waitForTotal(gw(), runId, events.length, 60_000)).toBe(events.length);
  }, 120_000);

  it('should export a gzip NDJSON file through the reporting service, its hash in the headers, every row once', async () => {
    const started = await request<Job>(`${gw()}/audit/export`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        format: 'ndjson',
        compress: true,
        period: { start: '2025-06-01', end: '2025-06-30' },
        'metadata.run_id': runId,
      }),
    });
    expect(started.status).toBe(202);
    const job = await done(started.body.status_url);
    expect(job.progress).toEqual({ rows_done: 1200, rows_expected: 1200 });
    const res = await fetch(`${gw()}${job.download_url}`);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    expect(res.headers.get('x-content-sha256')).toBe(createHash('sha256').update(bytes).digest('hex'));
    const lines = gunzipSync(bytes)
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; metadata: { i: number } });
    expect(lines).toHaveLength(1200);
    expect(new Set(lines.map((l) => l.id)).size).toBe(1200);
    expect(lines.find((l) => l.metadata.i === 0)).toMatchObject({ description: '=HYPERLINK("http://x")' });

    const audit = await request<{ total: number }>(
      `${gw()}/audit/events?event_type=data_exported&metadata.job_id=${job.id}&metadata.action=requested`,
    );
    const deadline = Date.now() + 30_000;
    let total = audit.body.total;
    while (total !== 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      total = (
        await request<{ total: number }>(
          `${gw()}/audit/events?event_type=data_exported&metadata.job_id=${job.id}&metadata.action=requested`,
        )
      ).body.total;
    }
    expect(total).toBe(1);
  }, 120_000);

  it('should answer a compliance report with the run’s evidence counted, and refuse a bad body naming the field', async () => {
    const started = await request<Job>(`${gw()}/audit/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        report_type: 'compliance',
        period: { start: '2025-06-01', end: '2025-06-30' },
        categories: ['security'],
        'metadata.run_id': runId,
      }),
    });
    expect(started.status).toBe(202);
    const job = await done(started.body.status_url);
    const report = (
      await request<{ controls: Array<{ control: string; framework: string; evidence_count: number; status: string }> }>(
        `${gw()}${job.download_url}`,
      )
    ).body;
    const c = report.controls.find((x) => x.framework === 'PCI DSS v4.0.1' && x.control === '10.2.1.4');
    expect(c).toMatchObject({ status: 'satisfied', evidence_count: 400 });
    // Its search URL returns exactly that evidence (the run's filter kept).
    expect((await request<{ total: number }>(`${gw()}${(c as unknown as { search_url: string }).search_url}`)).body.total).toBe(400);

    const bad = await request<{ error: { details: Array<{ field: string }> } }>(`${gw()}/audit/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ report_type: 'compliance', format: 'pdf', period: { start: '2025-06-01', end: '2025-06-30' } }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d) => d.field)).toContain('format');
  }, 120_000);
});
