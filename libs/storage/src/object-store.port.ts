import { Readable } from 'node:stream';

/** What the store knows of an object without reading it. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Hex SHA-256 of the object's bytes, computed while it was written. */
  sha256: string;
  modifiedAt: Date;
}

/**
 * Where archives (retention) and export and report files (reporting) go: a directory (the embedded
 * default, under AUDIT_DATA_DIR, or a volume in Kubernetes) or an S3-compatible bucket. Keys are relative
 * paths of `/`-separated segments of [A-Za-z0-9._=-]; a `put` is atomic: readers see the whole object or none.
 */
export interface ObjectStore {
  readonly kind: 'directory' | 's3';
  /** Writes the object from `body` (bytes or a stream) and returns its size and SHA-256. */
  put(key: string, body: Buffer | Readable, options?: { contentType?: string }): Promise<ObjectInfo>;
  /**
   * A local path to write an object's bytes to (by a writer that is not a stream here, such as the query
   * engine's `INTO OUTFILE`), then given to `putFile`. In the store's own directory when it has one, so that
   * `putFile` is a rename; else a temporary file.
   */
  stagingPath(key: string): Promise<string>;
  /**
   * Makes the file at `localPath` (from `stagingPath`) the object `key`, atomically as `put`. `written` is its
   * size and SHA-256 as whoever wrote the file computed them (reading it back); the store checks them against
   * the file (the size) or the bytes it uploads (both). The local file is gone afterwards, stored or not.
   */
  putFile(
    key: string,
    localPath: string,
    written: { size: number; sha256: string },
    options?: { contentType?: string },
  ): Promise<ObjectInfo>;
  /** The object's bytes as a stream; a NotFoundError when absent. */
  get(key: string): Promise<Readable>;
  /** Size and SHA-256, or undefined when absent. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes the object; absent is not an error. */
  delete(key: string): Promise<void>;
  /** Whether the store answers (for readiness and /audit/status). */
  ping(): Promise<boolean>;
}

const SEGMENT = /^[A-Za-z0-9._=-]{1,200}$/;

/** Refuses a key that could escape the store's root or mean different things to different backends. */
export function checkObjectKey(key: string): string {
  const segments = key.split('/');
  if (key.length > 1024 || segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) {
    throw new Error(`invalid object key '${key.slice(0, 100)}': segments of [A-Za-z0-9._=-] separated by '/'`);
  }
  return key;
}
