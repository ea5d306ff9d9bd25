import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/common';
import { createDataSource } from '@app/persistence';
import { issueServerCert, makeCa } from '../support/test-pki';

const BIN = '/usr/lib/postgresql/15/bin';
const postgresUid = (): number => Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
const postgresGid = (): number => Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
const PORT = 55_433;

/**
 * A private Postgres 15 (initdb into a temp dir, run as the postgres user, on its own port) that takes only
 * TLS connections: the machine's shared server is left as it is.
 */
describe('Postgres over TLS', () => {
  let dir: string;
  let ca: string;
  let otherCa: string;
  const opened: DataSource[] = [];
  const asPostgres = (args: string[]): void => {
    execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' });
  };
  const url = `postgres://postgres@127.0.0.1:${PORT}/postgres`;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-pg-tls-'));
    chmodSync(dir, 0o755);
    const made = makeCa(dir, 'test-ca');
    ca = made.cert;
    otherCa = makeCa(dir, 'other-ca').cert;
    const { cert: serverCert, key: serverKey } = issueServerCert(dir, 'server', made);
    const pgdata = path.join(dir, 'data');
    mkdirSync(pgdata);
    // The server writes its log and socket here and must own its key.
    for (const f of [dir, pgdata, serverKey, serverCert]) chownSync(f, postgresUid(), postgresGid());
    chmodSync(serverKey, 0o600);
    asPostgres([`${BIN}/initdb`, '-D', pgdata, '-A', 'trust', '-U', 'postgres']);
    writeFileSync(
      path.join(pgdata, 'pg_hba.conf'),
      `hostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\nlocal all all trust\n`,
    );
    asPostgres([
      `${BIN}/pg_ctl`, '-D', pgdata, '-l', path.join(dir, 'pg.log'), '-w', '-t', '60', 'start', '-o',
      `-p ${PORT} -k ${dir} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=${serverCert} -c ssl_key_file=${serverKey}`,
    ]); // prettier-ignore
  }, 90_000);

  afterAll(() => {
    for (const ds of opened) void ds.destroy().catch(() => undefined);
    try {
      asPostgres([`${BIN}/pg_ctl`, '-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } catch {
      // It never started: beforeAll's error says why.
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const open = async (env: Record<string, string>): Promise<DataSource> => {
    const config = loadConfig({ DATABASE_URL: url, ...env });
    if (config.postgres.kind !== 'pg') throw new Error('expected a Postgres target');
    const ds = await createDataSource({ target: config.postgres, entities: [], migrations: [] });
    opened.push(ds);
    return ds;
  };

  it('should connect with verify-full against the CA and run over TLS', async () => {
    const ds = await open({ AUDIT_POSTGRES_SSL: 'true', AUDIT_POSTGRES_SSL_CA_FILE: ca });
    const rows: Array<{ ssl: boolean; version: string }> = await ds.query(
      'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(rows[0].ssl).toBe(true);
    expect(rows[0].version).toMatch(/^TLSv1\.[23]$/);
  });

  it('should be refused by the server when TLS is off', async () => {
    await expect(open({})).rejects.toThrow(/no encryption|pg_hba\.conf rejects/);
  });

  it('should refuse a server whose certificate another CA signed', async () => {
    await expect(open({ AUDIT_POSTGRES_SSL: 'true', AUDIT_POSTGRES_SSL_CA_FILE: otherCa })).rejects.toThrow(/certificate/);
  });

  it('should connect without checking the server in require mode', async () => {
    const ds = await open({ AUDIT_POSTGRES_SSL: 'true', AUDIT_POSTGRES_SSL_MODE: 'require' });
    const rows: Array<{ ssl: boolean }> = await ds.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(rows[0].ssl).toBe(true);
  });
});
