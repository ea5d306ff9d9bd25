import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
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
  /** Bounds on connecting and on a connection's silence (defaults: 10 s and 300 s); tests shorten them. */
  timeouts?: { connectMs: number; idleMs: number };
}

/** The SHA-256 travels as user metadata, so `head` and `list` need no read of the object. */
const SHA_META = 'sha256';

const isNotFound = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
};

/** A stream up to this size is one PutObject; a longer one a multipart upload of parts this size (S3's minimum is 5 MiB). */
export const S3_PART_BYTES = 8 * 1024 * 1024;

/**
 * Connecting to the object store, and a connection's silence, before the SDK gives up (and retries). The
 * silence counts while a reader holds a download paused too (a restore waiting on ingest between batches), so
 * it is minutes, not seconds: past it the download fails as a storage error and the restore starts again.
 */
const S3_CONNECT_TIMEOUT_MS = 10_000;
const S3_IDLE_TIMEOUT_MS = 300_000;

/**
 * Objects in an S3-compatible bucket (`@aws-sdk/client-s3`). A PutObject and a completed multipart upload are
 * atomic on S3: readers see the whole object or none. A body up to S3_PART_BYTES is one PutObject with its
 * SHA-256 as metadata; a longer stream (a large export) is uploaded a part at a time, so memory stays at one
 * part, and its SHA-256, known only at the end, is set by copying the object onto itself with the metadata
 * (S3 copies up to 5 GiB in one CopyObject: a larger object keeps an empty sha256 in `head`).
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
      // The SDK's defaults wait forever: a server that accepts and then says nothing would hold an archive run
      // (and its lock) for good. An idle bound, not a whole-request one: an archive's upload may take long.
      requestHandler: {
        connectionTimeout: options.timeouts?.connectMs ?? S3_CONNECT_TIMEOUT_MS,
        socketTimeout: options.timeouts?.idleMs ?? S3_IDLE_TIMEOUT_MS,
      },
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
    const contentType = options.contentType ?? 'application/octet-stream';
    if (Buffer.isBuffer(body)) return this.putOne(key, body, contentType);
    const iterator = (body as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
    const first = await readPart(iterator, Buffer.alloc(0));
    if (first.done) return this.putOne(key, first.part, contentType);
    return this.putMultipart(key, iterator, first.part, first.rest, contentType);
  }

  /** A temporary file of this machine (the bucket has no local directory): `putFile` uploads it and removes it. */
  async stagingPath(key: string): Promise<string> {
    checkObjectKey(key);
    const dir = path.join(tmpdir(), 'homepot-audit-staging');
    await mkdir(dir, { recursive: true });
    return path.join(dir, randomBytes(8).toString('hex'));
  }

  /** Uploads the file as `put` does a stream, and checks the bytes uploaded are the ones the writer hashed. */
  async putFile(
    key: string,
    localPath: string,
    written: { size: number; sha256: string },
    options: { contentType?: string } = {},
  ): Promise<ObjectInfo> {
    try {
      const info = await this.put(key, createReadStream(localPath, { highWaterMark: S3_PART_BYTES }), options);
      if (info.size !== written.size || info.sha256 !== written.sha256) {
        await this.delete(key);
        throw new Error(`the file for ${key} changed while it was uploaded (${info.size} bytes uploaded; ${written.size} written)`);
      }
      return info;
    } finally {
      await rm(localPath, { force: true });
    }
  }

  private async putOne(key: string, bytes: Buffer, contentType: string): Promise<ObjectInfo> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: this.keyOf(key),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: contentType,
        Metadata: { [SHA_META]: sha256 },
      }),
    );
    return { key, size: bytes.length, sha256, modifiedAt: new Date() };
  }

  private async putMultipart(
    key: string,
    iterator: AsyncIterator<Buffer | string>,
    firstPart: Buffer,
    firstRest: Buffer,
    contentType: string,
  ): Promise<ObjectInfo> {
    const Bucket = this.options.bucket;
    const Key = this.keyOf(key);
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: contentType }));
    const UploadId = created.UploadId!;
    const hash = createHash('sha256');
    const parts: { ETag: string; PartNumber: number }[] = [];
    let size = 0;
    try {
      let next: { part: Buffer; rest: Buffer; done: boolean } = { part: firstPart, rest: firstRest, done: false };
      for (;;) {
        if (next.part.length > 0 || parts.length === 0) {
          hash.update(next.part);
          size += next.part.length;
          const PartNumber = parts.length + 1;
          const res = await this.client.send(
            new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: next.part, ContentLength: next.part.length }),
          );
          parts.push({ ETag: res.ETag!, PartNumber });
        }
        if (next.done) break;
        next = await readPart(iterator, next.rest);
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      await iterator.return?.();
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw e;
    }
    const sha256 = hash.digest('hex');
    if (size <= 5 * 1024 * 1024 * 1024) {
      await this.client.send(
        new CopyObjectCommand({
          Bucket,
          Key,
          CopySource: `${Bucket}/${Key.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE',
          ContentType: contentType,
          Metadata: { [SHA_META]: sha256 },
        }),
      );
    }
    return { key, size, sha256, modifiedAt: new Date() };
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

/** The next S3_PART_BYTES of the stream (fewer at its end), with what was read beyond them. */
async function readPart(iterator: AsyncIterator<Buffer | string>, carry: Buffer): Promise<{ part: Buffer; rest: Buffer; done: boolean }> {
  const chunks: Buffer[] = [carry];
  let have = carry.length;
  while (have < S3_PART_BYTES) {
    const next = await iterator.next();
    if (next.done) {
      const all = Buffer.concat(chunks);
      return { part: all, rest: Buffer.alloc(0), done: true };
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    have += chunk.length;
  }
  const all = Buffer.concat(chunks);
  return { part: all.subarray(0, S3_PART_BYTES), rest: Buffer.from(all.subarray(S3_PART_BYTES)), done: false };
}
