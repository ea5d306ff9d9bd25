import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { kafkaSecurityOptions } from './kafka-security';

describe(kafkaSecurityOptions.name, () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'audit-kafka-sec-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should add nothing for a plaintext connection', () => {
    expect(kafkaSecurityOptions({})).toEqual({});
  });

  it('should read the CA, client certificate and key into kafkajs ssl options', () => {
    const file = (n: string): string => {
      writeFileSync(path.join(dir, n), n.toUpperCase());
      return path.join(dir, n);
    };
    const options = kafkaSecurityOptions({ ssl: { caFile: file('ca'), certFile: file('cert'), keyFile: file('key'), keyPassphrase: 'p' } });
    expect(options.ssl).toEqual({ ca: [Buffer.from('CA')], cert: Buffer.from('CERT'), key: Buffer.from('KEY'), passphrase: 'p' });
  });

  it('should pass TLS with the system CAs when no file is given, and the SASL credentials', () => {
    const options = kafkaSecurityOptions({ ssl: {}, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } });
    expect(options).toEqual({ ssl: {}, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } });
  });
});
