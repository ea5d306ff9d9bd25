import { createHash, randomUUID } from 'node:crypto';
import { pipeline, Readable, Transform, Writable } from 'node:stream';
import { pipeline as pipelineDone } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';
import { NotFoundError, StoredAuditEvent } from '@app/contracts';
import type { ArchiveLeavesView, IntegrityPort } from '@app/integrity';
import { EXPORT_LINES_MAX, QueryPort, RangeCursor } from '@app/query';
import type { ObjectStore } from '@app/storage';
import { ArchiveManifest } from './archive.repository';

const DAY_US = 86_400_000_000;
/** Events per read of the store while archiving: the most the query port's exportLines gives at once. */
const PAGE = EXPORT_LINES_MAX;
const AGE_HEADER = Buffer.from('age-encryption.org/v1\n');

/** A key segment from any tenant or category name (object keys allow [A-Za-z0-9._=-] only). */
export const keySegment = (s: string): string =>
  /^[A-Za-z0-9._=-]{1,128}$/.test(s) && !/^\.+$/.test(s) ? s : `x-${Buffer.from(s).toString('hex')}`;

export class ArchiveCheckError extends Error {}

/** The object store failed (unreachable, refused, full): the job waits and tries again, nothing is removed. */
export class StorageError extends Error {}

async function storage<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof NotFoundError) throw e;
    throw new StorageError(`object store ${what}: ${(e as Error).message}`);
  }
}

/**
 * Writes one archive object (tenant, category, UTC day): the day's events as JSON Lines, gzip-compressed when
 * the policy says so, encrypted in the age format to the deployment's recipients (the stock `age` CLI decrypts
 * it), then reads the object back and checks its size and SHA-256 before the manifest is returned. The service
 * holds recipients only, never an identity, so the plaintext hash is checkable only by whoever decrypts.
 */
/** What the archiver asks the integrity capability (its port): absent when that capability does not run. */
export type ArchiveIntegrity = Pick<IntegrityPort, 'leafIndices' | 'archiveLeaves'>;

/** The ids of a page of engine-rendered lines: each starts with `{"id":"<uuid>"` (EVENT_JSON_LINE). */
export function idsOfLines(lines: string): string[] {
  const ids: string[] = [];
  for (let at = 0; at < lines.length;) {
    if (!lines.startsWith('{"id":"', at)) throw new Error('an exported line does not start with its id');
    ids.push(lines.slice(at + 7, at + 43));
    const end = lines.indexOf('\n', at);
    at = end === -1 ? lines.length : end + 1;
  }
  return ids;
}

export class Archiver {
  private readonly page: number;
  private readonly integrity: ArchiveIntegrity | undefined;

  constructor(
    private readonly query: QueryPort,
    private readonly store: ObjectStore,
    options: { page?: number; integrity?: ArchiveIntegrity; onIntegrityError?: (e: Error) => void } = {},
  ) {
    this.page = options.page ?? PAGE;
    this.integrity = options.integrity;
    this.onIntegrityError = options.onIntegrityError ?? (() => undefined);
  }

  private readonly onIntegrityError: (e: Error) => void;

  /**
   * The archive's events, after checking the object against its manifest (size and SHA-256), decrypting it
   * with `identity` when it is encrypted, and checking the plaintext's SHA-256 and event count. All in memory:
   * for small archives and tests; a restore reads in batches (`batches`).
   */
  async read(m: ArchiveManifest, identity: string | undefined): Promise<StoredAuditEvent[]> {
    const out: StoredAuditEvent[] = [];
    for await (const batch of this.batches(m, identity, 10_000)) out.push(...batch);
    return out;
  }

  /**
   * The archive's events in batches of `size`, in memory one batch at a time whatever the archive's size:
   * the object streams through its hash, age's decryption and gunzip into a line reader. Read twice: the
   * first pass checks the object's size and SHA-256, the plaintext's SHA-256 and the event count against
   * the manifest and yields nothing, so no event of an archive that fails its check is handed on; the second
   * yields the events, and checks again at its end (the object cannot be trusted to be the same twice).
   */
  async *batches(m: ArchiveManifest, identity: string | undefined, size: number): AsyncGenerator<StoredAuditEvent[]> {
    if (m.recipients.length > 0 && !identity) throw new ArchiveCheckError(`archive ${m.id} is encrypted and no identity was given`);
    for await (const _ of this.pass(m, identity, size, false)) {
      // The checking pass yields nothing.
    }
    yield* this.pass(m, identity, size, true);
  }

  private async *pass(m: ArchiveManifest, identity: string | undefined, size: number, emit: boolean): AsyncGenerator<StoredAuditEvent[]> {
    const object = new Digest();
    const plain = new Digest();
    const raw = await storage(`read of ${m.object_key}`, () => this.store.get(m.object_key));
    // A failure of the object's own stream is the store's (the job waits and tries again), not the archive's.
    let storageFailed: Error | undefined;
    raw.once('error', (e: Error) => (storageFailed = e));
    let body: Readable = pipeline(raw, object.tap(), () => undefined);
    if (m.recipients.length > 0) {
      const age = await import('age-encryption');
      const d = new age.Decrypter();
      d.addIdentity(identity!);
      try {
        const decrypted = await d.decrypt(Readable.toWeb(body) as ReadableStream<Uint8Array>);
        body = Readable.fromWeb(decrypted as unknown as import('node:stream/web').ReadableStream<Uint8Array>);
      } catch (e) {
        throw new ArchiveCheckError(`archive ${m.id} could not be decrypted with that identity: ${(e as Error).message}`);
      }
    }
    if (m.compression === 'gzip') body = pipeline(body, createGunzip(), () => undefined);
    let count = 0;
    const batch: StoredAuditEvent[] = [];
    let rest = '';
    const decoder = new StringDecoder('utf8');
    const take = (text: string): void => {
      const lines = (rest + text).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        count++;
        if (emit) batch.push(JSON.parse(line) as StoredAuditEvent);
      }
    };
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        plain.take(chunk);
        take(decoder.write(chunk));
        while (batch.length >= size) yield batch.splice(0, size);
      }
      take(decoder.end());
    } catch (e) {
      if (storageFailed) throw new StorageError(`object store read of ${m.object_key}: ${storageFailed.message}`);
      if (e instanceof SyntaxError) throw new ArchiveCheckError(`archive ${m.id}: a line is not JSON (${e.message})`);
      if (e instanceof ArchiveCheckError) throw e;
      throw new ArchiveCheckError(`archive ${m.id} could not be read: ${(e as Error).message}`);
    }
    if (rest !== '') {
      count++;
      if (emit) batch.push(JSON.parse(rest) as StoredAuditEvent);
    }
    if (object.size !== m.object_size || object.hex() !== m.object_sha256) {
      throw new ArchiveCheckError(`archive ${m.id}: the object does not match its manifest (size or SHA-256)`);
    }
    if (plain.hex() !== m.plaintext_sha256) throw new ArchiveCheckError(`archive ${m.id}: the plaintext does not match its SHA-256`);
    if (count !== m.event_count) throw new ArchiveCheckError(`archive ${m.id}: ${count} events, the manifest says ${m.event_count}`);
    while (emit && batch.length > 0) yield batch.splice(0, size);
  }

  deleteObject(key: string): Promise<void> {
    return storage(`delete of ${key}`, () => this.store.delete(key));
  }

  /**
   * Streams the day into one object: keyset pages of JSON Lines the engine renders (the query port's
   * exportLines, in-process or over TCP) go through gzip (zlib, on libuv's threads) and age's STREAM
   * encryption (64 KiB chunks) into ObjectStore.put (a file, or an S3 multipart upload of 8 MiB parts),
   * hashing the plaintext and the object on the way. Memory holds a page or two and the parts in flight,
   * whatever the day's size. The object is then read back as a stream and checked the same way.
   */
  async archiveDay(
    tenantId: string,
    category: string,
    day: string,
    options: { compress: boolean; recipients: string[]; policy: Record<string, unknown>; now: Date },
  ): Promise<ArchiveManifest> {
    const fromUs = Date.parse(`${day}T00:00:00Z`) * 1000;
    const filter = { categories: [category], eventTypes: [], severities: [], metadata: [], fromUs, toUs: fromUs + DAY_US - 1 };
    const plainHash = createHash('sha256');
    let count = 0;
    let first: RangeCursor | null = null;
    let last: RangeCursor | null = null;
    const query = this.query;
    const limit = this.page;
    // The integrity view: each line's leaf index, looked up per page while the next page is read. A failure
    // there leaves the manifest without it (integrity: null); the archive itself does not depend on it.
    let integrity = this.integrity;
    const indices: number[] = [];
    let lookup: Promise<void> = Promise.resolve();
    const integrityFailed = (e: Error): void => {
      integrity = undefined;
      this.onIntegrityError(e);
    };
    async function* pages(): AsyncGenerator<Buffer> {
      let after: RangeCursor | null = null;
      for (;;) {
        const page = await query.exportLines(tenantId, filter, after, limit);
        await lookup;
        if (page.count > 0) {
          first ??= page.first;
          last = page.last;
          count += page.count;
          const bytes = Buffer.from(page.lines);
          plainHash.update(bytes);
          if (integrity) {
            const from = integrity;
            lookup = from.leafIndices(tenantId, idsOfLines(page.lines)).then((got) => {
              for (const i of got) indices.push(i);
            }, integrityFailed);
          }
          yield bytes;
        }
        if (page.count < limit) return await lookup;
        after = page.last;
      }
    }
    // One page read ahead of the one being compressed: highWaterMark counts pages here.
    let body: Readable = Readable.from(pages(), { objectMode: false, highWaterMark: 1 });
    if (options.compress) body = pipeline(body, createGzip(), () => undefined);
    if (options.recipients.length > 0) body = await encryptStream(body, options.recipients);
    const sent = new Digest();
    body = pipeline(body, sent.tap(), () => undefined);
    const key = `archives/${keySegment(tenantId)}/${keySegment(category)}/${day}.jsonl${options.compress ? '.gz' : ''}${options.recipients.length ? '.age' : ''}`;
    const written = await storage(`write of ${key}`, () => this.store.put(key, body, { contentType: 'application/octet-stream' }));
    const plaintextSha256 = plainHash.digest('hex');
    // Read back: what the store serves must be what was written, byte for byte, before anything relies on it.
    const back = await storage(`read back of ${key}`, () => this.checkObject(key, options.compress, options.recipients.length > 0));
    if (back.size !== written.size || back.sha256 !== written.sha256 || written.sha256 !== sent.hex() || written.size !== sent.size) {
      throw new ArchiveCheckError(`archive ${key} read back differs from what was written`);
    }
    if (options.recipients.length > 0) {
      if (!back.ageHeader) throw new ArchiveCheckError(`archive ${key} is not an age file`);
    } else if (back.plaintextSha256 !== plaintextSha256) {
      throw new ArchiveCheckError(`archive ${key} does not decode to its events`);
    }
    let leaves: ArchiveLeavesView | null = null;
    if (integrity && indices.length === count) {
      leaves = await integrity.archiveLeaves(tenantId, indices).catch((e: Error) => {
        integrityFailed(e);
        return null;
      });
    }
    const firstRef = first as RangeCursor | null;
    const lastRef = last as RangeCursor | null;
    return {
      id: randomUUID(),
      tenant_id: tenantId,
      category,
      day,
      object_key: key,
      event_count: count,
      first_id: firstRef?.id ?? null,
      last_id: lastRef?.id ?? null,
      first_timestamp: firstRef?.timestamp ?? null,
      last_timestamp: lastRef?.timestamp ?? null,
      plaintext_sha256: plaintextSha256,
      object_sha256: written.sha256,
      object_size: written.size,
      compression: options.compress ? 'gzip' : 'none',
      recipients: options.recipients,
      policy: options.policy,
      created_at: options.now.toISOString(),
      restored_until: null,
      integrity: leaves,
    };
  }

  /**
   * The stored object as a stream: its size and SHA-256, whether it starts with the age header, and for an
   * unencrypted archive the SHA-256 of its plaintext (gunzipped on the way when compressed).
   */
  private async checkObject(
    key: string,
    compressed: boolean,
    encrypted: boolean,
  ): Promise<{ size: number; sha256: string; ageHeader: boolean; plaintextSha256: string | null }> {
    const object = new Digest();
    const plain = new Digest();
    const stream = await this.store.get(key);
    if (encrypted) await pipelineDone(stream, object.tap(), new Writable({ write: (_c, _e, done) => done() }));
    else if (compressed) await pipelineDone(stream, object.tap(), createGunzip(), plain.sink());
    else await pipelineDone(stream, object.tap(), plain.sink());
    return {
      size: object.size,
      sha256: object.hex(),
      ageHeader: object.head.subarray(0, AGE_HEADER.length).equals(AGE_HEADER),
      plaintextSha256: encrypted ? null : plain.hex(),
    };
  }
}

/** SHA-256 and size of bytes passing through, and their first bytes (the age header check). */
class Digest {
  private readonly hash = createHash('sha256');
  size = 0;
  head = Buffer.alloc(0);

  take(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.head.length < AGE_HEADER.length) this.head = Buffer.concat([this.head, chunk.subarray(0, AGE_HEADER.length)]);
  }

  tap(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.take(chunk);
        done(null, chunk);
      },
    });
  }

  sink(): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.take(chunk);
        done();
      },
    });
  }

  hex(): string {
    return this.hash.copy().digest('hex');
  }
}

/** age's STREAM encryption of a Node stream (web streams inside age-encryption), as a Node stream again. */
async function encryptStream(body: Readable, recipients: string[]): Promise<Readable> {
  const age = await import('age-encryption');
  const e = new age.Encrypter();
  for (const r of recipients) e.addRecipient(r);
  const encrypted = await e.encrypt(Readable.toWeb(body) as ReadableStream<Uint8Array>);
  return Readable.fromWeb(encrypted as unknown as import('node:stream/web').ReadableStream<Uint8Array>);
}
