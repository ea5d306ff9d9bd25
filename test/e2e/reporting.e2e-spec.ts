import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { bootApp, eventually, http, TestApp, waitForTotal } from './support/embedded-app';
import { pathOf, specCurlCommands } from './support/spec-curl';

const run = promisify(execFile);

/**
 * A strict RFC 4180 parser (no package is installed for CSV): records end with CRLF, a field is quoted or has
 * no quote, CR, LF or comma in it; inside quotes "" is a quote; anything else throws. Every record must have
 * as many fields as the header.
 */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
    } else {
      while (i < n && text[i] !== ',' && text[i] !== '\r') {
        if (text[i] === '"' || text[i] === '\n') throw new Error(`bare ${JSON.stringify(text[i])} in an unquoted field at ${i}`);
        field += text[i++];
      }
    }
    record.push(field);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text.startsWith('\r\n', i)) {
      i += 2;
      records.push(record);
      record = [];
      if (i === n) break;
      continue;
    }
    if (i === n) {
      records.push(record);
      break;
    }
    throw new Error(`unexpected ${JSON.stringify(text[i])} after a field at ${i}`);
  }
  const width = records[0].length;
  records.forEach((r, k) => {
    if (r.length !== width) throw new Error(`record ${k} has ${r.length} fields, the header ${width}`);
  });
  return records;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function curl(app: TestApp, cmd: string): Promise<{ code: number; body: string }> {
  const rewritten = cmd.replace(/http:\/\/localhost:8000/g, app.url).replace(/^curl /, `curl -s -S --max-time 20 -w '\\n%{http_code}' `);
  const { stdout } = await run('bash', ['-c', rewritten], { maxBuffer: 64 * 1024 * 1024 });
  const idx = stdout.lastIndexOf('\n');
  return { code: Number(stdout.slice(idx + 1)), body: stdout.slice(0, idx) };
}

const guideCurl = (p: string): string => {
  const cmd = specCurlCommands().find((c) => pathOf(c) === p);
  if (!cmd) throw new Error(`no guide example for ${p}`);
  return cmd;
};

interface Job {
  id: string;
  state: string;
  status_url: string;
  download_url: string | null;
  progress: { rows_done: number; rows_expected: number | null };
  warnings: string[];
  file: { name: string; size: number; sha256: string } | null;
  manifest: Record<string, unknown> & { file: { sha256: string; key: string; size: number }; rows: number };
}

describe('exports and reports (embedded)', () => {
  let app: TestApp;
  /** Events of August 2025 in device and job categories: the guide's export period; outside the report's categories. */
  const august: Array<Record<string, unknown>> = [];
  const HOSTILE = ['=cmd|"/C calc"!A0', '+SUM(1,2)', '-2+3', '@HYPERLINK("http://x")', '\tTAB', '\rCR', '\nLF', 'a,b "c"\r\nd'];
  for (let i = 0; i < 2300; i++) {
    // 1500 share one timestamp, so the keyset pages (1000 rows) must break ties on the id.
    const ts = i < 1500 ? '2025-08-10T12:00:00.000000Z' : `2025-08-${String(11 + (i % 18)).padStart(2, '0')}T08:00:00.000000Z`;
    august.push({
      event_type: i % 2 === 0 ? 'device_updated' : 'job_created',
      description: i < HOSTILE.length ? HOSTILE[i] : `event ${i}`,
      metadata: { device_id: `dev-${i % 7}`, note: i < HOSTILE.length ? HOSTILE[(i + 1) % HOSTILE.length] : 'plain', n: i },
      timestamp: ts,
    });
  }
  /** Security and user events of March 2025: what the guide's compliance report counts. */
  const march = [
    ...Array.from({ length: 7 }, (_, i) => ({
      event_type: 'login_failed',
      description: `<script>alert(${i})</script>`,
      metadata: { user_id: 'mallory' },
    })),
    { event_type: 'permission_denied', description: 'denied', metadata: { user_id: 'bob', resource: '/payroll' } },
    ...Array.from({ length: 2 }, () => ({
      event_type: 'user_created',
      description: 'account',
      metadata: { user_id: 'admin', resource: 'user/x' },
    })),
    ...Array.from({ length: 3 }, () => ({ event_type: 'permission_changed', description: 'role', metadata: { user_id: 'admin' } })),
    ...Array.from({ length: 4 }, () => ({ event_type: 'admin_action', description: 'admin', metadata: { user_id: 'admin' } })),
  ].map((e, i) => ({ ...e, timestamp: `2025-03-${String(3 + i).padStart(2, '0')}T23:30:00.000000Z` }));
  const augustIds = new Set<string>();

  beforeAll(async () => {
    // Pages of 1000 rows, so the 2300-row export spans several pages, written by the engine a page of hours at a time.
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_REPORT_PAGE_ROWS: '1000', AUDIT_EXPORT_FILE_PAGE_ROWS: '1000' });
    const a = await http(`${app.url}/audit/events`, { method: 'POST', json: august });
    expect(a.status).toBe(201);
    for (const r of a.body.results as Array<{ id: string }>) augustIds.add(r.id);
    const m = await http(`${app.url}/audit/events`, { method: 'POST', json: march });
    expect(m.status).toBe(201);
    await waitForTotal(app.url, 'start=2025-01-01&end=2025-09-01', august.length + march.length, 30_000);
  });

  afterAll(async () => {
    await app.close();
  });

  const done = (url: string): Promise<Job> =>
    eventually(
      async () => {
        const r = await http(`${app.url}${url}`);
        expect(r.status).toBe(200);
        if (r.body.state === 'failed') throw new Error(`job failed: ${r.body.error}`);
        return r.body.state === 'done' ? (r.body as Job) : undefined;
      },
      60_000,
      `${url} done`,
    );

  const download = async (job: Job): Promise<{ bytes: Buffer; headers: Headers }> => {
    const res = await fetch(`${app.url}${job.download_url}`);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    return { bytes, headers: res.headers };
  };

  it("should run the guide's export curl verbatim: gzip CSV, RFC 4180, formulas neutralised, hash and manifest verified", async () => {
    const { code, body } = await curl(app, guideCurl('/audit/export'));
    expect(code).toBe(202);
    const started = JSON.parse(body) as Job;
    expect(started.status_url).toBe(`/audit/exports/${started.id}`);
    const job = await done(started.status_url);
    expect(job.progress).toEqual({ rows_done: august.length, rows_expected: august.length });

    const { bytes, headers } = await download(job);
    expect(headers.get('content-type')).toBe('application/gzip');
    expect(Number(headers.get('content-length'))).toBe(bytes.length);
    expect(headers.get('x-content-sha256')).toBe(sha256(bytes));
    expect(headers.get('repr-digest')).toBe(`sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`);
    expect(job.file?.sha256).toBe(sha256(bytes));

    const rows = parseCsv(gunzipSync(bytes).toString('utf8'));
    const [header, ...records] = rows;
    expect(header.at(-1)).toBe('metadata');
    expect(records).toHaveLength(august.length);
    const col = (name: string): number => header.indexOf(name);
    const ids = records.map((r) => r[col('id')]);
    expect(new Set(ids).size).toBe(august.length);
    expect(new Set(ids)).toEqual(augustIds);
    // In (timestamp, id) order.
    const keys = records.map((r) => r[col('timestamp')]);
    expect([...keys].sort()).toEqual(keys);
    for (let i = 0; i < HOSTILE.length; i++) {
      const rec = records.find((r) => JSON.parse(r[col('metadata')]).n === i)!;
      expect(rec[col('description')]).toBe(i === HOSTILE.length - 1 ? HOSTILE[i] : `'${HOSTILE[i]}`);
      expect(JSON.parse(rec[col('metadata')]).note).toBe(HOSTILE[(i + 1) % HOSTILE.length]);
    }
    for (const r of records) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r\n]/);

    // The manifest: in the job and as a file beside the export, naming the file's hash and the query.
    expect(job.manifest.rows).toBe(august.length);
    expect(job.manifest.file.sha256).toBe(sha256(bytes));
    const manifestPath = path.join(app.dataDir, 'objects', path.dirname(job.manifest.file.key), 'manifest.json');
    const onDisk = JSON.parse(readFileSync(manifestPath, 'utf8'));
    expect(onDisk.file.sha256).toBe(sha256(readFileSync(path.join(app.dataDir, 'objects', job.manifest.file.key))));
    expect(onDisk.query).toEqual({
      format: 'csv',
      period: { start: '2025-08-01T00:00:00Z', end: '2025-09-01T23:59:59Z' },
      categories: ['all'],
      include_metadata: true,
      compress: true,
    });
    expect(onDisk.time_range).toEqual({ first_event: '2025-08-10T12:00:00.000000Z', last_event: '2025-08-28T08:00:00.000000Z' });

    // Exporting was recorded, and so was the download.
    const audit = await waitForTotal(app.url, `event_type=data_exported&metadata.job_id=${job.id}&metadata.action=requested`, 1);
    expect(audit.body.events[0].category).toBe('security_events');
    const downloaded = await waitForTotal(app.url, `event_type=data_exported&metadata.job_id=${job.id}&metadata.action=downloaded`, 1);
    expect(downloaded.body.events[0].metadata.sha256).toBe(sha256(bytes));
  });

  it('should export NDJSON with the search filters, each line the event exactly as stored', async () => {
    const r = await http(`${app.url}/audit/export`, {
      method: 'POST',
      json: {
        format: 'ndjson',
        period: { start: '2025-03-01', end: '2025-03-31' },
        categories: ['security'],
        event_type: 'login_failed',
        'metadata.user_id': 'mallory',
      },
    });
    expect(r.status).toBe(202);
    const job = await done(r.body.status_url);
    const { bytes, headers } = await download(job);
    expect(headers.get('content-type')).toBe('application/x-ndjson');
    const lines = bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(7);
    const stored = await http(`${app.url}/audit/events?event_type=login_failed&order=asc&limit=100`);
    expect(stored.body.events).toHaveLength(7);
    expect(lines.map((l) => l.id).sort()).toEqual(stored.body.events.map((e: { id: string }) => e.id).sort());
    for (const line of lines) {
      const e = stored.body.events.find((x: { id: string }) => x.id === line.id);
      expect(line).toEqual(e);
    }
    // The manifest states the filter in the search API's terms, and its search returns the same events.
    expect(job.manifest.filter).toEqual({
      category: 'security_events',
      event_type: 'login_failed',
      start: '2025-03-01T00:00:00.000000Z',
      end: '2025-03-31T23:59:59.999999Z',
      'metadata.user_id': 'mallory',
    });
    const again = await http(`${app.url}${job.manifest.search as string}&limit=100`);
    expect(again.status).toBe(200);
    expect(again.body.events.map((e: { id: string }) => e.id).sort()).toEqual(lines.map((l) => l.id).sort());
  });

  it.each([false, true])(
    'should export a JSON array (gzip %s) the engine wrote a page of hours at a time, each element the event as stored, in order',
    async (compress) => {
      const r = await http(`${app.url}/audit/export`, {
        method: 'POST',
        json: { format: 'json', period: { start: '2025-08-01', end: '2025-09-01' }, categories: ['all'], compress },
      });
      expect(r.status).toBe(202);
      const job = await done(r.body.status_url);
      expect(job.progress.rows_done).toBe(august.length);
      const { bytes } = await download(job);
      expect(sha256(bytes)).toBe(job.file?.sha256);
      const text = (compress ? gunzipSync(bytes) : bytes).toString('utf8');
      expect(text.startsWith('[\n{"id":')).toBe(true);
      expect(text.endsWith('}\n]\n')).toBe(true);
      const events = JSON.parse(text) as Array<{ id: string; timestamp: string; metadata?: unknown }>;
      expect(events).toHaveLength(august.length);
      expect(new Set(events.map((e) => e.id))).toEqual(augustIds);
      // In (timestamp, id) order, the id as the engine orders a UUID.
      const keys = events.map((e) => e.timestamp);
      expect([...keys].sort()).toEqual(keys);
      for (const e of [events[0], events[1500], events.at(-1)!]) {
        const stored = await http(`${app.url}/audit/events/${e.id}`);
        expect(e).toEqual(stored.body);
      }
    },
  );

  it.each(['json', 'ndjson', 'csv'])('should export an empty period as a valid empty %s file, gzip too', async (format) => {
    for (const compress of [false, true]) {
      const r = await http(`${app.url}/audit/export`, {
        method: 'POST',
        json: { format, period: { start: '2024-01-01', end: '2024-01-31' }, categories: ['all'], compress },
      });
      expect(r.status).toBe(202);
      const job = await done(r.body.status_url);
      expect(job.progress.rows_done).toBe(0);
      const { bytes } = await download(job);
      const text = (compress ? gunzipSync(bytes) : bytes).toString('utf8');
      if (format === 'json') expect(text).toBe('[]\n');
      else if (format === 'ndjson') expect(text).toBe('');
      else expect(text.startsWith('id,timestamp,')).toBe(true);
    }
  });

  it("should run the guide's report curl verbatim and count each control's evidence as ingested", async () => {
    const { code, body } = await curl(app, guideCurl('/audit/reports'));
    expect(code).toBe(202);
    const job = await done((JSON.parse(body) as Job).status_url);
    expect(job.progress.rows_done).toBe(march.length);
    const { bytes } = await download(job);
    expect(sha256(bytes)).toBe(job.file?.sha256);
    const report = JSON.parse(bytes.toString('utf8'));
    expect(report.events_in_scope).toBe(march.length);
    const control = (framework: string, id: string) =>
      report.controls.find((c: { framework: string; control: string }) => c.framework === framework && c.control === id);
    expect(control('PCI DSS v4.0.1', '10.2.1.4')).toMatchObject({ status: 'satisfied', evidence_count: 8 });
    expect(control('PCI DSS v4.0.1', '10.2.1.4').sample).toHaveLength(5);
    expect(control('PCI DSS v4.0.1', '10.2.1.5')).toMatchObject({ status: 'satisfied', evidence_count: 5 });
    expect(control('SOC 2', 'CC6.3')).toMatchObject({ status: 'satisfied', evidence_count: 7 });
    expect(control('PCI DSS v4.0.1', '10.2.1.6')).toMatchObject({ status: 'not_applicable' });
    expect(control('PCI DSS v4.0.1', '10.2.1.3')).toMatchObject({ status: 'gap', evidence_count: 0 });
    // No policy set yet (the next test sets one): said as such, not "not configured".
    expect(control('PCI DSS v4.0.1', '10.5.1')).toMatchObject({
      status: 'insufficient_data',
      reason: 'retention: no policy set for this tenant',
    });
    expect(report.retention).toMatchObject({ state: 'no policy set', policy: null });
    expect(report.integrity).toEqual({ state: 'no checkpoint signed yet' });
    expect(job.manifest.integrity_checkpoint).toBeNull();
    expect(job.manifest.integrity_checkpoint_absent).toBe('no checkpoint signed yet');
    // The search URL returns all of the control's evidence.
    const search = await http(`${app.url}${control('PCI DSS v4.0.1', '10.2.1.4').search_url}`);
    expect(search.body.total).toBe(8);
    // The period starts before anything is held: said, not silent.
    expect(report.warnings.join(' ')).toMatch(/before the oldest event held/);
    const audit = await waitForTotal(app.url, `event_type=report_generated&metadata.job_id=${job.id}&metadata.action=requested`, 1);
    expect(audit.body.total).toBe(1);
  });

  it('should render a security report as an escaped, self-contained HTML page', async () => {
    const r = await http(`${app.url}/audit/reports`, {
      method: 'POST',
      json: { report_type: 'security', period: { start: '2025-03-01', end: '2025-03-31' }, categories: ['all'], format: 'html' },
    });
    expect(r.status).toBe(202);
    const job = await done(r.body.status_url);
    const { bytes, headers } = await download(job);
    expect(headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = bytes.toString('utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('&lt;script&gt;alert(0)&lt;/script&gt;');
    expect(html).not.toContain('<script');
    expect(html).not.toMatch(/<link|src=/);
  });

  it('should answer an activity report as CSV with the counts by event type', async () => {
    const r = await http(`${app.url}/audit/reports`, {
      method: 'POST',
      json: { report_type: 'activity', period: { start: '2025-08-01', end: '2025-08-31' }, categories: ['device'], format: 'csv' },
    });
    expect(r.status).toBe(202);
    const job = await done(r.body.status_url);
    const rows = parseCsv((await download(job)).bytes.toString('utf8'));
    expect(rows).toContainEqual(['by_event_type', 'device_updated', String(august.length / 2)]);
  });

  it.each([
    [{ format: 'pdf', period: { start: '2025-01-01', end: '2025-02-01' } }, 'format'],
    [{ format: 'csv', period: { start: '2025-03-01', end: '2025-02-01' } }, 'period.end'],
    [{ format: 'csv', period: { start: '2025-03-01' } }, 'period.end'],
    [{ format: 'csv' }, 'period'],
    [{ format: 'csv', period: { start: '2025-01-01', end: '2025-02-01' }, categories: ['bogus'] }, 'categories'],
    [{ format: 'csv', period: { start: '2025-01-01', end: '2025-02-01' }, colour: 'red' }, 'colour'],
    [{ format: 'csv', period: { start: '2025-01-01', end: '2025-02-01' }, compress: 'yes' }, 'compress'],
  ])('should refuse the export %j with a 400 naming %s', async (json, field) => {
    const r = await http(`${app.url}/audit/export`, { method: 'POST', json });
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it.each([
    [{ report_type: 'weekly', period: { start: '2025-01-01', end: '2025-02-01' } }, 'report_type'],
    [{ report_type: 'compliance', format: 'pdf', period: { start: '2025-01-01', end: '2025-02-01' } }, 'format'],
    [{ report_type: 'compliance', period: { end: '2025-02-01' } }, 'period.start'],
  ])('should refuse the report %j with a 400 naming %s', async (json, field) => {
    const r = await http(`${app.url}/audit/reports`, { method: 'POST', json });
    expect(r.status).toBe(400);
    expect(r.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  // Last: the checkpoint's own audit event and the policy would change what the tests above count.
  it('should show the retention policy in force, the archives and the latest signed checkpoint, in the report and the manifests', async () => {
    // Seven calendar years keep every event of this test (nothing is due for deletion).
    const policy = await http(`${app.url}/audit/retention`, { method: 'POST', json: { retention_period: 'P7Y', compress_archives: true } });
    expect([201, 202]).toContain(policy.status);
    await eventually(
      async () => ((await http(`${app.url}/audit/retention`)).body.policy?.retention_period === 'P7Y' ? true : undefined),
      10_000,
      'the policy in force',
    );
    const signed = await http(`${app.url}/audit/integrity/checkpoint`, { method: 'POST' });
    expect(signed.status).toBe(201);
    const checkpoint = signed.body as { tree_size: number; root_hash: string; note: string; origin: string };

    const r = await http(`${app.url}/audit/reports`, {
      method: 'POST',
      json: { report_type: 'compliance', period: { start: '2025-03-01', end: '2025-03-31' }, categories: ['all'], format: 'json' },
    });
    expect(r.status).toBe(202);
    const job = await done(r.body.status_url);
    const report = JSON.parse((await download(job)).bytes.toString('utf8'));
    // P7Y ending at the report's time, in days (2556 or 2557 by the leap days it spans).
    const generated = new Date(report.generated_at);
    const from = new Date(generated);
    from.setUTCFullYear(from.getUTCFullYear() - 7);
    const days = Math.round((generated.getTime() - from.getTime()) / 86_400_000);
    expect(report.retention).toMatchObject({
      state: 'in force',
      policy: { retention_period: 'P7Y' },
      effective_days: days,
      archives: { count: 0, events: 0 },
    });
    const retentionControls = ['10.5.1', '164.316(b)(2)(i)', '802 / 17 CFR 210.2-06', 'Art. 5(1)(e)'];
    for (const id of retentionControls) {
      const c = report.controls.find((x: { control: string }) => x.control === id);
      expect(c.status).toBe('satisfied');
      expect(c.reason).toContain(`${days} days`);
    }
    expect(report.retention.framework_minimums.map((f: { control: string }) => f.control)).toEqual(retentionControls);
    expect(report.integrity).toEqual({
      state: 'signed',
      latest_checkpoint: expect.objectContaining({
        tree_size: checkpoint.tree_size,
        root_hash: checkpoint.root_hash,
        note: checkpoint.note,
      }),
    });
    expect(JSON.stringify(report)).not.toContain('not configured');

    // The manifests cite the checkpoint they were computed against (its note by hash).
    const cited = {
      origin: checkpoint.origin,
      tree_size: checkpoint.tree_size,
      root_hash: checkpoint.root_hash,
      note_sha256: sha256(Buffer.from(checkpoint.note, 'utf8')),
    };
    expect(job.manifest.integrity_checkpoint).toMatchObject(cited);
    expect(job.manifest.integrity_checkpoint_absent).toBeUndefined();
    const e = await http(`${app.url}/audit/export`, {
      method: 'POST',
      json: { format: 'json', period: { start: '2025-03-01', end: '2025-03-31' }, categories: ['security'] },
    });
    expect(e.status).toBe(202);
    expect((await done(e.body.status_url)).manifest.integrity_checkpoint).toMatchObject(cited);
  });

  it('should accept category aliases as search does, and answer 404 for an unknown job', async () => {
    const r = await http(`${app.url}/audit/export`, {
      method: 'POST',
      json: { format: 'json', period: { start: '2025-03-01', end: '2025-03-02' }, categories: ['security', 'users'] },
    });
    expect(r.status).toBe(202);
    expect((await http(`${app.url}/audit/exports/00000000-0000-7000-8000-000000000000`)).status).toBe(404);
    expect((await http(`${app.url}/audit/reports/${r.body.id}`)).status).toBe(404);
  });
});
