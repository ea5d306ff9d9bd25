import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createLogger, KafkaSecurityConfig, loadConfig } from '@app/common';
import { KafkaBus } from '@app/event-bus';
import { ROOT } from './support/environment';
import { issueServerCert, makeCa } from '../support/test-pki';

const PORT = 19_093;
const USER = 'audit';
const PASSWORD = 'audit-secret-1';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A second broker, separate from the shared one: scripts/kafka.sh with its own run and data directory, on
 * 19093 (SASL_SSL) / 19094 (controller) / 19095 (inter-broker), a certificate from a CA made here, and one
 * SASL user for PLAIN and both SCRAM mechanisms. The jars are the shared broker's.
 */
describe('Kafka over TLS and SASL', () => {
  let dir: string;
  let brokerEnv: NodeJS.ProcessEnv;
  const buses: KafkaBus[] = [];
  const logger = createLogger('silent', 'kafka-tls-test');

  const script = (command: string): { ok: boolean; output: string } => {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts/kafka.sh'), command], { env: brokerEnv, encoding: 'utf8', timeout: 120_000 });
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  };

  /** The bus as an app builds it, from the same variables an operator sets. */
  const newBus = (env: Record<string, string>): KafkaBus => {
    const config = loadConfig({ KAFKA_BROKERS: `127.0.0.1:${PORT}`, KAFKA_TOPIC_PARTITIONS: '1', ...env });
    if (config.kafka.kind !== 'kafka') throw new Error('expected Kafka');
    const security: KafkaSecurityConfig = { ssl: config.kafka.ssl, sasl: config.kafka.sasl };
    const bus = new KafkaBus({ ...config.kafka, ...security, maxBatchRecords: 100, publishTimeoutMs: 8000, logger });
    buses.push(bus);
    return bus;
  };

  let ca: string;
  let otherCa: string;
  const tlsEnv = (mechanism: string, password = PASSWORD, caFile = ca): Record<string, string> => ({
    AUDIT_KAFKA_SSL: 'true',
    AUDIT_KAFKA_SSL_CA_FILE: caFile,
    AUDIT_KAFKA_SASL_MECHANISM: mechanism,
    AUDIT_KAFKA_SASL_USERNAME: USER,
    AUDIT_KAFKA_SASL_PASSWORD: password,
  });

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-kafka-tls-'));
    const testCa = makeCa(dir, 'ca');
    ca = testCa.cert;
    otherCa = makeCa(dir, 'other-ca').cert;
    const broker = issueServerCert(dir, 'broker', testCa);
    const keystore = path.join(dir, 'keystore.pem');
    writeFileSync(keystore, Buffer.concat([readFileSync(broker.key), readFileSync(broker.cert)]));
    brokerEnv = {
      ...process.env,
      KAFKA_RUN_DIR: path.join(dir, 'run'),
      KAFKA_PORT: String(PORT),
      KAFKA_SECURITY: 'sasl_ssl',
      KAFKA_SSL_KEYSTORE_PEM: keystore,
      KAFKA_SASL_USERS: `${USER}:${PASSWORD}`,
      KAFKA_HEAP_OPTS: '-Xms128m -Xmx256m',
    };
    const started = script('start');
    if (!started.ok) throw new Error(`the TLS broker did not start:\n${started.output}`);
  }, 150_000);

  afterAll(async () => {
    for (const b of buses) await b.close().catch(() => undefined);
    script('stop');
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it.each(['scram-sha-256', 'scram-sha-512', 'plain'])(
    'should produce and consume through the event bus with %s over TLS',
    async (mechanism) => {
      const bus = newBus(tlsEnv(mechanism));
      await bus.connect();
      await bus.ensureTopics();
      const seen: string[] = [];
      await bus.subscribe(`tls-group-${mechanism}`, async (batch) => void seen.push(...batch.records.map((r) => r.value.toString())), {
        topic: 'audit.events.v1',
        fromBeginning: true,
      });
      const values = Array.from({ length: 20 }, (_, i) => JSON.stringify({ mechanism, i }));
      await bus.publish(
        'audit.events.v1',
        values.map((value, i) => ({ key: `k${i}`, value })),
      );
      for (let waited = 0; values.some((v) => !seen.includes(v)) && waited < 30_000; waited += 100) await sleep(100);
      expect(values.filter((v) => !seen.includes(v))).toEqual([]);
    },
    60_000,
  );

  it('should be refused with a wrong password', async () => {
    const bus = newBus(tlsEnv('scram-sha-256', 'not-the-password'));
    await expect(bus.connect()).rejects.toThrow(/SASL SCRAM SHA256 authentication failed|Authentication failed|invalid credentials/i);
  }, 60_000);

  it('should refuse a broker whose certificate another CA signed', async () => {
    const bus = newBus(tlsEnv('scram-sha-256', PASSWORD, otherCa));
    await expect(bus.connect()).rejects.toThrow(/certificate|self[- ]signed|unable to verify/i);
  }, 60_000);
});
