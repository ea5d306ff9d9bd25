import * as path from 'node:path';
import { ConfigError, defineConfigSection, env } from '@app/common';
import { DirectoryObjectStore } from './directory.store';
import { ObjectStore } from './object-store.port';
import { S3ObjectStore } from './s3.store';

/**
 * Where object files (archives, exports) go: a directory under AUDIT_DATA_DIR (default; a volume in Kubernetes)
 * or an S3-compatible bucket when AUDIT_S3_BUCKET is set.
 */
export const STORAGE_CONFIG = defineConfigSection({
  name: 'storage',
  variables: [
    'AUDIT_S3_BUCKET',
    'AUDIT_S3_ENDPOINT',
    'AUDIT_S3_REGION',
    'AUDIT_S3_PREFIX',
    'AUDIT_S3_ACCESS_KEY_ID',
    'AUDIT_S3_SECRET_ACCESS_KEY',
  ],
  parse: (e) => {
    const bucket = env.string(e, 'AUDIT_S3_BUCKET');
    const accessKeyId = env.string(e, 'AUDIT_S3_ACCESS_KEY_ID');
    const secretAccessKey = env.string(e, 'AUDIT_S3_SECRET_ACCESS_KEY');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw new ConfigError(
        accessKeyId === undefined ? 'AUDIT_S3_ACCESS_KEY_ID' : 'AUDIT_S3_SECRET_ACCESS_KEY',
        'is needed with the other S3 key variable',
      );
    }
    if (bucket === undefined) return { kind: 'directory' as const };
    return {
      kind: 's3' as const,
      bucket,
      endpoint: env.url(e, 'AUDIT_S3_ENDPOINT', ['http:', 'https:']),
      region: env.string(e, 'AUDIT_S3_REGION', 'us-east-1') as string,
      prefix: env.string(e, 'AUDIT_S3_PREFIX', '') as string,
      accessKeyId,
      secretAccessKey,
    };
  },
});

export type StorageSettings = ReturnType<typeof STORAGE_CONFIG.parse>;

/** The deployment's object store: `<dataDir>/objects` or the bucket. */
export function openObjectStore(settings: StorageSettings, dataDir: string): ObjectStore {
  if (settings.kind === 'directory') return new DirectoryObjectStore(path.join(dataDir, 'objects'));
  return new S3ObjectStore({ ...settings, forcePathStyle: true });
}
