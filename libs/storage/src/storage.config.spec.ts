import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DirectoryObjectStore } from './directory.store';
import { S3ObjectStore } from './s3.store';
import { openObjectStore, STORAGE_CONFIG } from './storage.config';

describe('STORAGE_CONFIG', () => {
  it('given no bucket, then objects go to a directory under the data directory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'storage-config-'));
    try {
      expect(openObjectStore(STORAGE_CONFIG.parse({}), dir)).toBeInstanceOf(DirectoryObjectStore);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('given a bucket, then an S3 store with its endpoint and region', () => {
    const s = STORAGE_CONFIG.parse({ AUDIT_S3_BUCKET: 'audit', AUDIT_S3_ENDPOINT: 'http://127.0.0.1:9780' });
    expect(s).toMatchObject({ kind: 's3', bucket: 'audit', endpoint: 'http://127.0.0.1:9780', region: 'us-east-1' });
    const store = openObjectStore(s, '/unused');
    expect(store).toBeInstanceOf(S3ObjectStore);
    (store as S3ObjectStore).close();
  });

  it('should refuse half a key pair and a bad endpoint, naming the variable', () => {
    expect(() => STORAGE_CONFIG.parse({ AUDIT_S3_BUCKET: 'b', AUDIT_S3_ACCESS_KEY_ID: 'k' })).toThrow(/AUDIT_S3_SECRET_ACCESS_KEY/);
    expect(() => STORAGE_CONFIG.parse({ AUDIT_S3_BUCKET: 'b', AUDIT_S3_ENDPOINT: 'ftp://x' })).toThrow(/AUDIT_S3_ENDPOINT/);
  });
});
