import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from './config';

describe('transport TLS settings', () => {
  let dir: string;
  let pem: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-tls-config-'));
    pem = path.join(dir, 'any.pem');
    writeFileSync(pem, 'contents are checked when the connection is made');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const errorOf = (env: Record<string, string>): ConfigError => {
    try {
      loadConfig(env);
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error('no configuration error');
  };

  it('should leave every connection in plain text by default', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://db/a', CLICKHOUSE_URL: 'https://ch:8443', KAFKA_BROKERS: 'k:9092' });
    expect(c.http.tls).toBeUndefined();
    expect(c.postgres).toEqual({ kind: 'pg', url: 'postgres://db/a', ssl: undefined });
    expect(c.clickhouse).toMatchObject({ tls: undefined });
    expect(c.kafka).not.toHaveProperty('ssl');
    expect(c.kafka).not.toHaveProperty('sasl');
  });

  it('should read the HTTPS listener files and the reload interval', () => {
    const c = loadConfig({ AUDIT_TLS_CERT_FILE: pem, AUDIT_TLS_KEY_FILE: pem, AUDIT_TLS_RELOAD_INTERVAL_MS: '500' });
    expect(c.http.tls).toEqual({ certFile: pem, keyFile: pem, caFile: undefined, passphrase: undefined, reloadIntervalMs: 500 });
    expect(loadConfig({ AUDIT_TLS_CERT_FILE: pem, AUDIT_TLS_KEY_FILE: pem }).http.tls?.reloadIntervalMs).toBe(10_000);
  });

  it('should read Kafka TLS and SASL', () => {
    const c = loadConfig({
      KAFKA_BROKERS: 'k:9093',
      AUDIT_KAFKA_SSL: 'true',
      AUDIT_KAFKA_SSL_CA_FILE: pem,
      AUDIT_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      AUDIT_KAFKA_SASL_USERNAME: 'audit',
      AUDIT_KAFKA_SASL_PASSWORD: 's3cret',
    });
    expect(c.kafka).toMatchObject({
      ssl: { caFile: pem, certFile: undefined, keyFile: undefined },
      sasl: { mechanism: 'scram-sha-512', username: 'audit', password: 's3cret' },
    });
  });

  it('should read the Postgres sslmode, verify-full by default', () => {
    const env = { DATABASE_URL: 'postgres://db/a', AUDIT_POSTGRES_SSL: 'on', AUDIT_POSTGRES_SSL_CA_FILE: pem };
    expect(loadConfig(env).postgres).toEqual({ kind: 'pg', url: 'postgres://db/a', ssl: { mode: 'verify-full', caFile: pem } });
    expect(loadConfig({ ...env, AUDIT_POSTGRES_SSL_MODE: 'require' }).postgres).toMatchObject({ ssl: { mode: 'require' } });
  });

  it('should read the ClickHouse CA and client certificate for an https URL', () => {
    const c = loadConfig({
      CLICKHOUSE_URL: 'https://ch:8443',
      AUDIT_CLICKHOUSE_TLS_CA_FILE: pem,
      AUDIT_CLICKHOUSE_TLS_CERT_FILE: pem,
      AUDIT_CLICKHOUSE_TLS_KEY_FILE: pem,
    });
    expect(c.clickhouse).toMatchObject({ kind: 'http', tls: { caFile: pem, certFile: pem, keyFile: pem } });
  });

  it.each<[string, Record<string, string>, RegExp]>([
    [
      'AUDIT_TLS_CERT_FILE',
      { AUDIT_TLS_CERT_FILE: '/nonexistent/x.crt', AUDIT_TLS_KEY_FILE: '/etc/hostname' },
      /cannot be read \(ENOENT\)/,
    ],
    ['AUDIT_TLS_KEY_FILE', { AUDIT_TLS_CERT_FILE: '<pem>' }, /is required with AUDIT_TLS_CERT_FILE/],
    ['AUDIT_TLS_CA_FILE', { AUDIT_TLS_CA_FILE: '<pem>' }, /is set but AUDIT_TLS_CERT_FILE/],
    [
      'AUDIT_TLS_RELOAD_INTERVAL_MS',
      { AUDIT_TLS_CERT_FILE: '<pem>', AUDIT_TLS_KEY_FILE: '<pem>', AUDIT_TLS_RELOAD_INTERVAL_MS: '-1' },
      /whole number/,
    ],
    ['AUDIT_KAFKA_SSL', { AUDIT_KAFKA_SSL: 'true' }, /needs KAFKA_BROKERS/],
    ['AUDIT_KAFKA_SSL_CA_FILE', { KAFKA_BROKERS: 'k:1', AUDIT_KAFKA_SSL_CA_FILE: '<pem>' }, /AUDIT_KAFKA_SSL is off/],
    ['AUDIT_KAFKA_SSL_KEY_FILE', { KAFKA_BROKERS: 'k:1', AUDIT_KAFKA_SSL: '1', AUDIT_KAFKA_SSL_CERT_FILE: '<pem>' }, /is required/],
    ['AUDIT_KAFKA_SASL_MECHANISM', { KAFKA_BROKERS: 'k:1', AUDIT_KAFKA_SASL_MECHANISM: 'gssapi' }, /plain, scram-sha-256, scram-sha-512/],
    [
      'AUDIT_KAFKA_SASL_PASSWORD',
      { KAFKA_BROKERS: 'k:1', AUDIT_KAFKA_SASL_MECHANISM: 'plain', AUDIT_KAFKA_SASL_USERNAME: 'u' },
      /is required/,
    ],
    ['AUDIT_KAFKA_SASL_USERNAME', { KAFKA_BROKERS: 'k:1', AUDIT_KAFKA_SASL_USERNAME: 'u' }, /MECHANISM is not/],
    ['AUDIT_POSTGRES_SSL', { AUDIT_POSTGRES_SSL: 'true' }, /needs DATABASE_URL/],
    [
      'AUDIT_POSTGRES_SSL_MODE',
      { DATABASE_URL: 'postgres://db/a', AUDIT_POSTGRES_SSL: 'true', AUDIT_POSTGRES_SSL_MODE: 'prefer' },
      /require, verify-ca, verify-full/,
    ],
    ['AUDIT_POSTGRES_SSL_CA_FILE', { DATABASE_URL: 'postgres://db/a', AUDIT_POSTGRES_SSL_CA_FILE: '<pem>' }, /AUDIT_POSTGRES_SSL is off/],
    ['DATABASE_URL', { DATABASE_URL: 'postgres://db/a?sslmode=disable', AUDIT_POSTGRES_SSL: 'true' }, /must not carry 'sslmode'/],
    [
      'AUDIT_CLICKHOUSE_TLS_CA_FILE',
      { CLICKHOUSE_URL: 'http://ch:8123', AUDIT_CLICKHOUSE_TLS_CA_FILE: '<pem>' },
      /needs an https: CLICKHOUSE_URL/,
    ],
    [
      'AUDIT_CLICKHOUSE_TLS_CA_FILE',
      { CLICKHOUSE_URL: 'https://ch', AUDIT_CLICKHOUSE_TLS_CERT_FILE: '<pem>', AUDIT_CLICKHOUSE_TLS_KEY_FILE: '<pem>' },
      /is required with/,
    ],
  ])('should name %s (%j)', (variable, env, message) => {
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '<pem>' ? pem : v]));
    const error = errorOf(resolved);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
  });

  it('should never echo the SASL password in an error', () => {
    const error = errorOf({ KAFKA_BROKERS: 'k:1', AUDIT_KAFKA_SASL_MECHANISM: 'oauthbearer', AUDIT_KAFKA_SASL_PASSWORD: 'hunter2-s3cret' });
    expect(error.message).not.toContain('hunter2');
  });
});
