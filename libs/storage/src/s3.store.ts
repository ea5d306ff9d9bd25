import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NotFoundError } from '@app/contracts';
import { checkObjectKey, ObjectInfo, ObjectStore } from './object-store.port';

export interface S3StoreOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  /** Under this prefix in the bucket ('' for the bucket's root). */
  prefix?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (endpoint/bucket/key): what S3-compatible servers (MinIO, s3proxy) expect. */
  forcePathStyle?: boolean;
}

/** The SHA-256 travels as user metadata, so `head` and `list` need no read of the object. */
const SHA_META = 'sha256';

const isNotFound = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
};

/**
 * Objects in an S3-compatible bucket (`@aws-sdk/client-s3`). A PutObject is atomic on S3: readers see the
 * whole object or none. The body is gathered in memory first, since a single PutObject needs its length and
 * the SHA-256 is stored with it (archives are one tenant's category-day; multipart upload is not built).
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly options: S3StoreOptions) {
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? true,
      // The SDK's default CRC32 checksum headers (since 3.729) are refused by S3-compatible servers that predate
      // them (s3proxy 2.6.0: 501 NotImplemented); the SHA-256 kept with each object is the check.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.accessKeyId && options.secretAccessKey
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
    });
    this.prefix = options.prefix ? `${options.prefix.replace(/\/+$/, '')}/` : '';
  }

  private keyOf(key: string): string {
    return `${this.prefix}${checkObjectKey(key)}`;
  }

  async put(key: string, body: Buffer | Readable, options: { contentType?: string } = {}): Promise<ObjectInfo> {
    const bytes = Buffer.isBuffer(body) ? body : await buffer(body);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: this.keyOf(key),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: options.contentType ?? 'application/octet-stream',
        Metadata: { [SHA_META]: sha256 },
      }),
    );
    return { key, size: bytes.length, sha256, modifiedAt: new Date() };
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(key) }));
      return res.Body as Readable;
    } catch (e) {
      if (isNotFound(e)) throw new NotFoundError(`no object ${key}`);
      throw e;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(key) }));
      return {
        key,
        size: Number(res.ContentLength ?? 0),
        sha256: res.Metadata?.[SHA_META] ?? '',
        modifiedAt: res.LastModified ?? new Date(0),
      };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${this.prefix}${prefix}`, ContinuationToken: token }),
      );
      // Directory markers (keys ending in '/', as filesystem-backed servers list them) are not objects.
      for (const o of res.Contents ?? []) if (o.Key && !o.Key.endsWith('/')) keys.push(o.Key.slice(this.prefix.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    const out: ObjectInfo[] = [];
    for (const k of keys.sort()) {
      const info = await this.head(k);
      if (info) out.push(info);
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.keyOf(key) }));
  }

  async ping(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.client.destroy();
  }
}
