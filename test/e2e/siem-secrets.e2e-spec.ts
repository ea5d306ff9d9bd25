import { Client } from 'pg';
import { makeTestPki, TestPki } from '../../libs/siem/src/transport/test-receivers';
import { bootApp, http, TestApp } from './support/embedded-app';

const SERVER = process.env.AUDIT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The embedded app on a Postgres database of its own, so the test can read the row as stored. */
describe('SIEM integration secrets at rest (embedded app on Postgres)', () => {
  const database = `siem_secrets_${process.pid}_${Date.now()}`;
  const url = SERVER.replace(/\/[^/]*$/, `/${database}`);
  let admin: Client;
  let app: TestApp;
  let pki: TestPki;

  beforeAll(async () => {
    pki = makeTestPki();
    admin = new Client({ connectionString: SERVER });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    app = await bootApp({ DATABASE_URL: url, AUDIT_SELF_AUDIT_READS: 'false', AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8' });
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin?.end();
  });

  const row = async (id: string): Promise<string> => {
    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      const r = await db.query<{ settings: string }>('SELECT settings::text AS settings FROM siem_integrations WHERE id = $1', [id]);
      return r.rows[0].settings;
    } finally {
      await db.end();
    }
  };

  it('should seal the TLS client key in Postgres, redact it in every answer, and keep it on a PATCH that sends the redaction back', async () => {
    const keyBody = pki.key.split('\n')[1];
    const created = await http(`${app.url}/audit/integrations`, {
      method: 'POST',
      json: {
        type: 'syslog',
        destination: '127.0.0.1:9',
        transport: 'tls',
        format: 'CEF',
        tls: { ca: pki.ca, cert: pki.cert, key: pki.key },
      },
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect((created.body as { tls: Record<string, string> }).tls).toMatchObject({ cert: pki.cert, key: '[redacted]' });
    expect(JSON.stringify(created.body)).not.toContain(keyBody);

    const stored = await row(id);
    expect(stored).not.toContain(keyBody);
    expect(stored).not.toContain('PRIVATE KEY');
    expect(stored).toMatch(/"key": ?"v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+"/);
    expect(stored).toContain('BEGIN CERTIFICATE');

    const got = await http(`${app.url}/audit/integrations/${id}`);
    expect((got.body as { tls: Record<string, string> }).tls.key).toBe('[redacted]');
    const listed = await http(`${app.url}/audit/integrations`);
    expect(JSON.stringify(listed.body)).not.toContain(keyBody);

    const patched = await http(`${app.url}/audit/integrations/${id}`, {
      method: 'PATCH',
      json: { tls: { ...(got.body as { tls: Record<string, string> }).tls, servername: 'localhost' } },
    });
    expect(patched.status).toBe(200);
    const after = await row(id);
    expect(after).not.toContain(keyBody);
    expect(after).toContain('"servername": "localhost"');
    expect(app.output()).not.toContain(keyBody);
  }, 60_000);

  it('should refuse a key without its certificate, naming the field', async () => {
    const r = await http(`${app.url}/audit/integrations`, {
      method: 'POST',
      json: { type: 'syslog', destination: '127.0.0.1:9', transport: 'tls', format: 'CEF', tls: { key: pki.key } },
    });
    expect(r.status).toBe(400);
    expect((r.body as { error: { details: Array<{ field: string }> } }).error.details[0].field).toBe('tls.cert');
  });
});
