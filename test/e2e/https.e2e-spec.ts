import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bootApp, eventually, TestApp } from './support/embedded-app';
import { selfSigned as makeSelfSigned } from '../support/test-pki';

interface Pair {
  cert: string;
  key: string;
  fingerprint: string;
}

/** A self-signed certificate for 127.0.0.1, with its fingerprint. */
function selfSigned(dir: string, name: string): Pair {
  const files = makeSelfSigned(dir, name);
  return { ...files, fingerprint: new X509Certificate(readFileSync(files.cert)).fingerprint256 };
}

interface Seen {
  status: number;
  body: string;
  fingerprint: string;
}

/** GET over HTTPS trusting only `ca`; reports the certificate the server presented. */
function get(url: string, ca: Buffer[]): Promise<Seen> {
  return new Promise((resolve, reject) => {
    // agent: false, so each call makes a new handshake and sees the certificate served now.
    const req = request(url, { ca, agent: false }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** audit_tls_reloads_total for one outcome, as /metrics shows it. */
async function reloads(url: string, ca: Buffer[], outcome: 'reloaded' | 'failed'): Promise<number> {
  const { body } = await get(`${url}/metrics`, ca);
  const m = new RegExp(`^audit_tls_reloads_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
}

/** Replaces a file the way a deploy tool does: write beside it, then rename over it. */
function replace(target: string, from: string): void {
  copyFileSync(from, `${target}.tmp`);
  renameSync(`${target}.tmp`, target);
}

describe('HTTPS listener', () => {
  let dir: string;
  let first: Pair;
  let second: Pair;
  const live = { cert: '', key: '' };
  let app: TestApp | undefined;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-https-'));
    first = selfSigned(dir, 'first');
    second = selfSigned(dir, 'second');
    live.cert = path.join(dir, 'live.crt');
    live.key = path.join(dir, 'live.key');
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should refuse to start with a key that does not match the certificate, naming the variable', async () => {
    const started = bootApp({ AUDIT_TLS_CERT_FILE: first.cert, AUDIT_TLS_KEY_FILE: second.key });
    await expect(started).rejects.toThrow(/exited with 2[\s\S]*AUDIT_TLS_KEY_FILE does not match the certificate in AUDIT_TLS_CERT_FILE/);
  });

  it('should refuse to start when the certificate file is missing', async () => {
    const started = bootApp({ AUDIT_TLS_CERT_FILE: path.join(dir, 'absent.crt'), AUDIT_TLS_KEY_FILE: first.key });
    await expect(started).rejects.toThrow(/AUDIT_TLS_CERT_FILE names '.*absent\.crt', which cannot be read \(ENOENT\)/);
  });

  it('should serve the API over HTTPS with the configured certificate', async () => {
    app = await bootApp({ AUDIT_TLS_CERT_FILE: live.cert, AUDIT_TLS_KEY_FILE: live.key, AUDIT_TLS_RELOAD_INTERVAL_MS: '200' });
    expect(app.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const seen = await get(`${app.url}/health/live`, [readFileSync(first.cert)]);
    expect(seen.status).toBe(200);
    expect(seen.fingerprint).toBe(first.fingerprint);
    const config = await get(`${app.url}/audit/config`, [readFileSync(first.cert)]);
    expect(JSON.parse(config.body)).toMatchObject({ tls: { https: true, reload_interval_ms: 200 } });
  });

  it('should refuse a client that does not trust the certificate', async () => {
    await expect(get(`${app!.url}/health/live`, [readFileSync(second.cert)])).rejects.toThrow(/self[- ]signed|unable to verify/i);
  });

  it('should serve a replaced certificate without a restart', async () => {
    const both = [readFileSync(first.cert), readFileSync(second.cert)];
    replace(live.key, second.key);
    replace(live.cert, second.cert);
    const seen = await eventually(async () => {
      const s = await get(`${app!.url}/health/live`, both);
      return s.fingerprint === second.fingerprint ? s : undefined;
    }, 10_000, 'the second certificate'); // prettier-ignore
    expect(seen.status).toBe(200);
    expect(await reloads(app!.url, both, 'reloaded')).toBe(1);
    expect(app!.output()).toContain('HTTPS certificate reloaded');
  });

  it('should keep serving the previous certificate when the new files do not load', async () => {
    const both = [readFileSync(first.cert), readFileSync(second.cert)];
    // The two renames above may have been seen half done (a failed reload); count from here.
    const failedBefore = await reloads(app!.url, both, 'failed');
    writeFileSync(`${live.cert}.tmp`, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    renameSync(`${live.cert}.tmp`, live.cert);
    // Counted, not looked for in the output: a half-done swap above may have logged a failure already.
    await eventually(
      async () => ((await reloads(app!.url, both, 'failed')) > failedBefore ? true : undefined),
      10_000,
      'the failed reload',
    );
    expect(app!.output()).toMatch(/"variable":"AUDIT_TLS_CERT_FILE"[^\n]*still serving the previous certificate/);
    const seen = await get(`${app!.url}/health/live`, both);
    expect(seen.fingerprint).toBe(second.fingerprint);
    expect(await reloads(app!.url, both, 'failed')).toBe(failedBefore + 1);
    // And a good pair afterwards is picked up again.
    replace(live.key, first.key);
    replace(live.cert, first.cert);
    await eventually(
      async () => ((await get(`${app!.url}/health/live`, both)).fingerprint === first.fingerprint ? true : undefined),
      10_000,
    );
  });
});
