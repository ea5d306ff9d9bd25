import { createHash, randomUUID } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { gunzipSync, gzipSync } from 'node:zlib';
import { NotFoundError, StoredAuditEvent } from '@app/contracts';
import type { QueryPort } from '@app/query';
import type { ObjectStore } from '@app/storage';
import { ArchiveManifest } from './archive.repository';
import { DAY_PAGE, dayPages } from './day-pages';

const AGE_HEADER = Buffer.from('age-encryption.org/v1\n');
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

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
export class Archiver {
  constructor(
    private readonly query: QueryPort,
    private readonly store: ObjectStore,
    private readonly page = DAY_PAGE,
  ) {}

  /** The day's events, oldest first by (timestamp, id). */
  private async eventsOf(tenantId: string, category: string, day: string): Promise<StoredAuditEvent[]> {
    const out: StoredAuditEvent[] = [];
    for await (const page of dayPages(this.query, tenantId, category, day, this.page)) out.push(...page);
    return out;
  }

  /**
   * The archive's events, after checking the object against its manifest (size and SHA-256), decrypting it
   * with `identity` when it is encrypted, and checking the plaintext's SHA-256 and event count.
   */
  async read(m: ArchiveManifest, identity: string | undefined): Promise<StoredAuditEvent[]> {
    const object = await storage(`read of ${m.object_key}`, async () => buffer(await this.store.get(m.object_key)));
    if (object.length !== m.object_size || sha256(object) !== m.object_sha256) {
      throw new ArchiveCheckError(`archive ${m.id}: the object does not match its manifest (size or SHA-256)`);
    }
    let body: Uint8Array = object;
    if (m.recipients.length > 0) {
      if (!identity) throw new ArchiveCheckError(`archive ${m.id} is encrypted and no identity was given`);
      const age = await import('age-encryption');
      const d = new age.Decrypter();
      d.addIdentity(identity);
      try {
        body = await d.decrypt(object);
      } catch (e) {
        throw new ArchiveCheckError(`archive ${m.id} could not be decrypted with that identity: ${(e as Error).message}`);
      }
    }
    const plain = m.compression === 'gzip' ? gunzipSync(body) : Buffer.from(body);
    if (sha256(plain) !== m.plaintext_sha256) throw new ArchiveCheckError(`archive ${m.id}: the plaintext does not match its SHA-256`);
    const text = plain.toString('utf8');
    const events =
      text === ''
        ? []
        : text
            .replace(/\n$/, '')
            .split('\n')
            .map((l) => JSON.parse(l) as StoredAuditEvent);
    if (events.length !== m.event_count)
      throw new ArchiveCheckError(`archive ${m.id}: ${events.length} events, the manifest says ${m.event_count}`);
    return events;
  }

  deleteObject(key: string): Promise<void> {
    return storage(`delete of ${key}`, () => this.store.delete(key));
  }

  async archiveDay(
    tenantId: string,
    category: string,
    day: string,
    options: { compress: boolean; recipients: string[]; policy: Record<string, unknown>; now: Date },
  ): Promise<ArchiveManifest> {
    const events = await this.eventsOf(tenantId, category, day);
    const plaintext = Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    let body: Uint8Array = options.compress ? gzipSync(plaintext) : plaintext;
    if (options.recipients.length > 0) {
      const age = await import('age-encryption');
      const e = new age.Encrypter();
      for (const r of options.recipients) e.addRecipient(r);
      body = await e.encrypt(body);
    }
    const key = `archives/${keySegment(tenantId)}/${keySegment(category)}/${day}.jsonl${options.compress ? '.gz' : ''}${options.recipients.length ? '.age' : ''}`;
    const written = await storage(`write of ${key}`, () =>
      this.store.put(key, Buffer.from(body), { contentType: 'application/octet-stream' }),
    );
    // Read back: what the store serves must be what was written, byte for byte, before anything relies on it.
    const back = await storage(`read back of ${key}`, async () => buffer(await this.store.get(key)));
    if (back.length !== written.size || sha256(back) !== written.sha256 || written.sha256 !== sha256(body)) {
      throw new ArchiveCheckError(`archive ${key} read back differs from what was written`);
    }
    if (options.recipients.length > 0) {
      if (!back.subarray(0, AGE_HEADER.length).equals(AGE_HEADER)) throw new ArchiveCheckError(`archive ${key} is not an age file`);
    } else {
      const plain = options.compress ? gunzipSync(back) : back;
      if (sha256(plain) !== sha256(plaintext)) throw new ArchiveCheckError(`archive ${key} does not decode to its events`);
    }
    return {
      id: randomUUID(),
      tenant_id: tenantId,
      category,
      day,
      object_key: key,
      event_count: events.length,
      first_id: events[0]?.id ?? null,
      last_id: events[events.length - 1]?.id ?? null,
      first_timestamp: events[0]?.timestamp ?? null,
      last_timestamp: events[events.length - 1]?.timestamp ?? null,
      plaintext_sha256: sha256(plaintext),
      object_sha256: written.sha256,
      object_size: written.size,
      compression: options.compress ? 'gzip' : 'none',
      recipients: options.recipients,
      policy: options.policy,
      created_at: options.now.toISOString(),
      restored_until: null,
    };
  }
}
