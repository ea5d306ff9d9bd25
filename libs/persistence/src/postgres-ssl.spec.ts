import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { postgresSslOptions } from './postgres-ssl';

describe(postgresSslOptions.name, () => {
  let dir: string;
  let ca: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-pg-ssl-'));
    ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, 'CA');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should encrypt without checking the server for require', () => {
    expect(postgresSslOptions({ mode: 'require' })).toEqual({ rejectUnauthorized: false });
  });

  it('should check the chain but not the host name for verify-ca', () => {
    const ssl = postgresSslOptions({ mode: 'verify-ca', caFile: ca });
    expect(ssl).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA') });
    expect(ssl.checkServerIdentity?.('other.example', {} as never)).toBeUndefined();
  });

  it('should check the chain and the host name for verify-full', () => {
    const ssl = postgresSslOptions({ mode: 'verify-full', caFile: ca });
    expect(ssl).toEqual({ rejectUnauthorized: true, ca: Buffer.from('CA') });
  });
});
