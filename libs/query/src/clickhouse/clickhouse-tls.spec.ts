import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '@app/common';
import { clickhouseTlsOptions } from './clickhouse-tls';

describe(clickhouseTlsOptions.name, () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  beforeAll(() => (dir = mkdtempSync(path.join(tmpdir(), 'audit-ch-tls-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should pass nothing without a CA, so the client uses the system CAs', () => {
    expect(clickhouseTlsOptions(undefined)).toBeUndefined();
    expect(clickhouseTlsOptions({})).toBeUndefined();
  });

  it('should pass the CA file contents as ca_cert', () => {
    expect(clickhouseTlsOptions({ caFile: file('ca.pem', 'CA') })).toEqual({ ca_cert: Buffer.from('CA') });
  });

  it('should pass a client certificate and key with the CA (mutual TLS)', () => {
    const tls = clickhouseTlsOptions({ caFile: file('ca.pem', 'CA'), certFile: file('c.pem', 'CERT'), keyFile: file('k.pem', 'KEY') });
    expect(tls).toEqual({ ca_cert: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') });
  });

  it('should name the variable of a file that went away since start-up', () => {
    expect(() => clickhouseTlsOptions({ caFile: path.join(dir, 'gone.pem') })).toThrow(ConfigError);
    expect(() => clickhouseTlsOptions({ caFile: path.join(dir, 'gone.pem') })).toThrow(/AUDIT_CLICKHOUSE_TLS_CA_FILE names/);
  });
});
