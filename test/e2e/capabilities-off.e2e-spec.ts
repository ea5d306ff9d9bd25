import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bootApp, eventually, http, MAIN, ROOT, TestApp, waitForTotal } from './support/embedded-app';

describe('capabilities turned off (AUDIT_CAPABILITIES_OFF)', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await bootApp({ AUDIT_CAPABILITIES_OFF: 'integrity, siem', AUDIT_SELF_AUDIT_READS: 'false' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should say in /audit/status and /audit/config which capabilities run', async () => {
    const status = await http(`${app.url}/audit/status`);
    expect(status.status).toBe(200);
    expect(status.body.capabilities.off).toEqual(['integrity', 'siem']);
    expect(status.body.capabilities.on).toEqual(expect.arrayContaining(['ingest', 'query', 'alerting', 'reporting', 'retention']));
    expect(status.body.capabilities.on).not.toContain('integrity');
    const config = await http(`${app.url}/audit/config`);
    expect(config.body.capabilities_off).toEqual(['integrity', 'siem']);
  });

  it.each([
    ['GET', '/audit/integrity/checkpoint', 'integrity'],
    ['POST', '/audit/integrity/verify', 'integrity'],
    ['GET', '/audit/integrations', 'siem'],
  ])('should answer %s %s with 404 capability_off naming %s', async (method, route, capability) => {
    const r = await http(`${app.url}${route}`, { method, ...(method === 'POST' ? { json: {} } : {}) });
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'capability_off', details: [{ field: 'AUDIT_CAPABILITIES_OFF', capability }] });
    expect(r.body.error.message).toContain(`the ${capability} capability is turned off`);
  });

  it('should still ingest, search and serve the operations endpoints', async () => {
    const posted = await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'user_login', metadata: { off: 'yes' } } });
    expect(posted.status).toBe(201);
    await waitForTotal(app.url, 'metadata.off=yes', 1);
    expect((await http(`${app.url}/audit/performance`)).status).toBe(200);
    // The proof route belongs to integrity although it sits under /audit/events.
    const proof = await http(`${app.url}/audit/events/${posted.body.id as string}/proof`);
    expect(proof.status).toBe(404);
    expect(proof.body.error.code).toBe('capability_off');
  });

  it('should say "capability off" for integrity in a compliance report and its manifest, and still read retention', async () => {
    const r = await http(`${app.url}/audit/reports`, {
      method: 'POST',
      json: { report_type: 'compliance', period: { start: '2025-01-01', end: '2025-01-31' }, categories: ['all'], format: 'json' },
    });
    expect(r.status).toBe(202);
    const job = await eventually(
      async () => {
        const j = await http(`${app.url}${r.body.status_url as string}`);
        if (j.body.state === 'failed') throw new Error(`report failed: ${j.body.error}`);
        return j.body.state === 'done' ? j.body : undefined;
      },
      30_000,
      'the report done',
    );
    expect(job.manifest).toMatchObject({ integrity_checkpoint: null, integrity_checkpoint_absent: 'capability off' });
    const report = (await http(`${app.url}${job.download_url as string}`)).body;
    expect(report.integrity).toEqual({ state: 'capability off' });
    expect(report.retention).toMatchObject({ state: 'no policy set' });
  });

  it.each([['ingest'], ['integrty']])('should refuse to start with AUDIT_CAPABILITIES_OFF=%s, naming the variable', (value) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'audit-e2e-off-'));
    try {
      const r = spawnSync(process.execPath, [MAIN], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', PORT: '0', AUDIT_DATA_DIR: dir, AUDIT_CAPABILITIES_OFF: value },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('AUDIT_CAPABILITIES_OFF');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
