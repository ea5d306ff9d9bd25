import * as path from 'node:path';
import { ConfigError, KNOWN_ENV_VARS, loadConfig } from './config';

const KAFKA = { KAFKA_BROKERS: 'kafka:9092' };

describe(loadConfig.name, () => {
  it('should default to the embedded mode on loopback with its data under ./data', () => {
    const c = loadConfig({});
    expect(c.http).toMatchObject({ host: '127.0.0.1', port: 8000, trustProxy: false });
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.postgres).toEqual({ kind: 'pglite', dataDir: path.join(c.dataDir, 'postgres') });
    expect(c.clickhouse).toEqual({ kind: 'chdb', path: path.join(c.dataDir, 'clickhouse') });
    expect(c.kafka).toEqual({ kind: 'embedded', fsync: true, hotWindowMs: 7 * 86_400_000 });
  });

  it('should switch each store to its server when its variable is set', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://u@db/audit',
      CLICKHOUSE_URL: 'http://ch:8123',
      ...KAFKA,
      KAFKA_TOPIC_PARTITIONS: '12',
    });
    expect(c.postgres).toEqual({ kind: 'pg', url: 'postgres://u@db/audit' });
    expect(c.clickhouse).toMatchObject({ kind: 'http', url: 'http://ch:8123' });
    expect(c.kafka).toMatchObject({ kind: 'kafka', brokers: ['kafka:9092'], partitions: 12 });
  });

  it('should read booleans in their usual spellings and the proxy list', () => {
    expect(loadConfig({ AUDIT_SELF_AUDIT_READS: 'off' }).selfAuditReads).toBe(false);
    expect(loadConfig({ AUDIT_LOG_FSYNC: 'No' }).kafka).toEqual({ kind: 'embedded', fsync: false, hotWindowMs: 7 * 86_400_000 });
    expect(loadConfig({ AUDIT_TRUST_PROXY: '10.0.0.0/8, ::1' }).http.trustProxy).toEqual(['10.0.0.0/8', '::1']);
    expect(loadConfig({ AUDIT_TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
  });

  // Each bad value must stop start-up with an error that names its variable; values that may hold secrets
  // are not echoed back into the logs.
  it.each<[string, string, Record<string, string>?]>([
    ['PORT', '80a'],
    ['PORT', '70000'],
    ['HEALTH_PORT', '-1'],
    ['AUDIT_BODY_LIMIT_BYTES', '10'],
    ['AUDIT_TRUST_PROXY', 'proxy.example'],
    ['LOG_LEVEL', 'verbose'],
    ['AUDIT_DEFAULT_TENANT', 'Acme Corp'],
    ['DATABASE_URL', 'mysql://root:s3cret@db/x'],
    ['DATABASE_URL', 'not a url s3cret'],
    ['CLICKHOUSE_URL', 'tcp://default:s3cret@ch:9000'],
    ['KAFKA_BROKERS', 'kafka'],
    ['KAFKA_TOPIC_PARTITIONS', '0', KAFKA],
    ['KAFKA_REPLICATION_FACTOR', 'three', KAFKA],
    ['AUDIT_LOG_FSYNC', 'maybe'],
    ['AUDIT_BATCH_MAX_EVENTS', '0'],
    ['AUDIT_BATCH_INTERVAL_MS', '1.5'],
    ['AUDIT_PRODUCE_LINGER_MS', '5000'],
    ['AUDIT_CONSUMER_RETRY_MAX_MS', '0'],
    ['INGEST_SERVICE_PORT', '0'],
    ['QUERY_SERVICE_PORT', 'x'],
    ['AUDIT_BOOTSTRAP_API_KEY', 's3cret-too-short'],
    ['AUDIT_ALLOW_ANONYMOUS_LOOPBACK', 'sometimes'],
    ['AUDIT_SELF_AUDIT_READS', '2'],
    ['AUDIT_RATE_LIMIT_PER_MINUTE', '0'],
    ['AUDIT_CAPABILITIES_OFF', 'integrity,Siem Forwarder'],
  ])('should name %s when it is %j', (variable, value, extra = {}) => {
    expect(KNOWN_ENV_VARS).toContain(variable);
    let error: unknown;
    try {
      loadConfig({ ...extra, [variable]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toContain(`configuration error: ${variable} `);
    if (value.includes('s3cret')) expect((error as ConfigError).message).not.toContain('s3cret');
  });
});
