import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { QueryPort } from '@app/query';
import { DirectoryObjectStore } from '@app/storage';
import type { ArchiveManifest } from './archive.repository';
import { ArchiveCheckError, Archiver, idsOfLines, keySegment } from './archiver';

describe('idsOfLines', () => {
  const a = '0190aaaa-bbbb-7ccc-8ddd-eeeeffff0001';
  const b = '0190aaaa-bbbb-7ccc-8ddd-eeeeffff0002';

  it('should take each line id from its start, in line order', () => {
    const lines = `{"id":"${a}","event_type":"x","description":"{\\"id\\":\\"not this\\"}"}\n{"id":"${b}","event_type":"y"}\n`;
    expect(idsOfLines(lines)).toEqual([a, b]);
  });

  it('should give none for an empty page, and refuse a line that does not start with its id', () => {
    expect(idsOfLines('')).toEqual([]);
    expect(() => idsOfLines(`{"event_type":"x","id":"${a}"}\n`)).toThrow(/does not start with its id/);
  });
});

describe('keySegment', () => {
  it('should keep a safe name and hex-encode any other', () => {
    expect(keySegment('security_events')).toBe('security_events');
    expect(keySegment('..')).toBe(`x-${Buffer.from('..').toString('hex')}`);
    expect(keySegment('a/b')).toBe(`x-${Buffer.from('a/b').toString('hex')}`);
  });
});

describe('Archiver.batches', () => {
  let dir: string;
  let store: DirectoryObjectStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'archiver-batches-'));
    store = new DirectoryObjectStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const events = Array.from({ length: 25 }, (_, i) => ({ id: `e${i}`, description: `event ${i} é` }));
  const plaintext = Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  async function archived(body: Buffer, compressed: boolean): Promise<ArchiveManifest> {
    const info = await store.put('archives/t/c/2025-01-01.jsonl.gz', body);
    return {
      id: 'a1',
      object_key: info.key,
      object_size: info.size,
      object_sha256: info.sha256,
      plaintext_sha256: hex(plaintext),
      event_count: events.length,
      compression: compressed ? 'gzip' : 'none',
      recipients: [],
    } as unknown as ArchiveManifest;
  }

  const reader = (): Archiver => new Archiver(undefined as unknown as QueryPort, store);

  it('given a gzip archive, then its events come in batches of at most the size asked, in order', async () => {
    const m = await archived(gzipSync(plaintext), true);
    const sizes: number[] = [];
    const got: unknown[] = [];
    for await (const b of reader().batches(m, undefined, 10)) {
      sizes.push(b.length);
      got.push(...b);
    }
    expect(sizes).toEqual([10, 10, 5]);
    expect(got).toEqual(events);
    expect(await reader().read(m, undefined)).toEqual(events);
  });

  it('given an archive whose bytes were changed after it was written, then no event is handed on', async () => {
    const m = await archived(plaintext, false);
    const tampered = Buffer.from(plaintext);
    tampered[tampered.length - 5] = 0x30;
    writeFileSync(path.join(dir, m.object_key), tampered);
    const handed: unknown[] = [];
    await expect(
      (async () => {
        for await (const b of reader().batches(m, undefined, 10)) handed.push(...b);
      })(),
    ).rejects.toBeInstanceOf(ArchiveCheckError);
    expect(handed).toEqual([]);
  });

  it('given a manifest that counts another number of events, then it is refused before any event', async () => {
    const m = { ...(await archived(plaintext, false)), event_count: 24 };
    await expect(reader().read(m, undefined)).rejects.toThrow(/25 events, the manifest says 24/);
  });
});
