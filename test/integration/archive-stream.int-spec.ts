import { ClickHouseClient } from '@clickhouse/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EventFilter, normalizeEvent, StoredAuditEvent } from '@app/contracts';
import { createClickHouse, eventToRow, EventStoreRepository, migrateClickHouse, QueryPort, RangeCursor, releaseChdb } from '@app/query';
import { Archiver } from '@app/retention';
import { DirectoryObjectStore } from '@app/storage';

/**
 * The archive's body comes from the engine (exportLines renders each event as a JSON line): it must hold the
 * same events, in the same order, as the query port's range builds in JavaScript, for every awkward value, and
 * the streaming archiver must write, read back and restore exactly those events whatever its page size.
 * Encryption is covered where age-encryption (ES modules only) loads: the e2e test, decrypted by the age CLI.
 */
describe('engine-rendered JSON Lines and the streaming archiver (chdb)', () => {
  let dir: string;
  let ch: ClickHouseClient;
  let store: EventStoreRepository;
  const day = '2025-03-02';
  const fromUs = Date.parse(`${day}T00:00:00Z`) * 1000;
  const filter: EventFilter = {
    categories: ['security_events'],
    eventTypes: [],
    severities: [],
    metadata: [],
    fromUs,
    toUs: fromUs + 86_400_000_000 - 1,
  };
  const awkward = ['plain', 'a/b "quoted" \\ back', 'line\nbreak\ttab\rcr', 'é ü 漢字 😀', 'sep\u2028\u2029', ''];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-archive-stream-'));
    ch = await createClickHouse({ kind: 'chdb', path: path.join(dir, 'ch') });
    await migrateClickHouse(ch);
    store = new EventStoreRepository(ch);
    const lines: string[] = [];
    for (let i = 0; i < 257; i++) {
      const text = awkward[i % awkward.length];
      // Every fourth event shares its microsecond with the one before: the keyset tie-break on id must hold.
      const us = fromUs + Math.floor(i / 4) * 4 * 300_000_000 + (i % 4 === 3 ? 0 : (i % 4) * 1_000);
      const r = normalizeEvent(
        {
          event_type: i % 2 ? 'login_failed' : 'admin_action',
          category: i % 5 === 0 ? 'user_events' : 'security_events',
          severity: 'warning',
          description: `event ${i} ${text}`,
          timestamp: new Date(us / 1000).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}Z`),
          metadata: i % 3 === 0 ? {} : { user_id: `u${i}`, note: text, nested: { n: i, f: 1.5, list: [1, 'two', null], ok: true } },
          ...(i % 7 === 0 ? { sequence: i * 1000, source: 'pos' } : {}),
          ...(i % 2 ? { ip_address: '10.0.0.1', session_id: `s/${text}` } : {}),
        },
        { tenantId: 'default', receivedAtMicros: fromUs + 86_400_000_000, trustTenantField: true },
      );
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      lines.push(JSON.stringify(eventToRow(r.event, { partition: i % 3, offset: String(i) })));
    }
    await store.insertLines(lines, 'archive-stream');
  });

  afterAll(async () => {
    await ch.close();
    await releaseChdb();
    rmSync(dir, { recursive: true, force: true });
  });

  async function allByRange(): Promise<StoredAuditEvent[]> {
    const out: StoredAuditEvent[] = [];
    let after: RangeCursor | null = null;
    for (;;) {
      const page = await store.range('default', filter, after, 50);
      out.push(...page);
      if (page.length < 50) return out;
      after = { timestamp: page[page.length - 1].timestamp, id: page[page.length - 1].id };
    }
  }

  it('should render, page by page, the events range gives, key for key and in order', async () => {
    const expected = await allByRange();
    expect(expected.length).toBeGreaterThan(200);
    const got: unknown[] = [];
    let after: RangeCursor | null = null;
    for (;;) {
      const page = await store.exportLines('default', filter, after, 13);
      const parsed =
        page.lines === ''
          ? []
          : page.lines
              .replace(/\n$/, '')
              .split('\n')
              .map((l) => JSON.parse(l) as StoredAuditEvent);
      expect(parsed).toHaveLength(page.count);
      if (page.count > 0) {
        expect(page.first).toEqual({ id: parsed[0].id, timestamp: parsed[0].timestamp });
        expect(page.last).toEqual({ id: parsed[parsed.length - 1].id, timestamp: parsed[parsed.length - 1].timestamp });
      }
      got.push(...parsed);
      if (page.count < 13) break;
      after = page.last;
    }
    expect(got).toEqual(expected);
    // Key order too: the restore path and any reader see the same object shape as before.
    expect(got.map((e) => Object.keys(e as object))).toEqual(expected.map((e) => Object.keys(e)));
  });

  it.each([[{ compress: true, page: 10_000 }], [{ compress: true, page: 16 }], [{ compress: false, page: 7 }]])(
    'should archive the day as a stream, read it back and restore the same events (%j)',
    async ({ compress, page }) => {
      const objects = new DirectoryObjectStore(path.join(dir, `objects-${compress}-${page}`));
      const archiver = new Archiver(store as unknown as QueryPort, objects, { page });
      const m = await archiver.archiveDay('default', 'security_events', day, { compress, recipients: [], policy: {}, now: new Date() });
      const expected = await allByRange();
      expect(m.event_count).toBe(expected.length);
      expect(m.first_id).toBe(expected[0].id);
      expect(m.last_id).toBe(expected[expected.length - 1].id);
      expect(m.last_timestamp).toBe(expected[expected.length - 1].timestamp);
      expect(m.object_key).toBe(`archives/default/security_events/${day}.jsonl${compress ? '.gz' : ''}`);
      expect((await objects.head(m.object_key))?.sha256).toBe(m.object_sha256);
      expect(await archiver.read(m, undefined)).toEqual(expected);
    },
  );

  it('should archive an empty day as an empty object', async () => {
    const objects = new DirectoryObjectStore(path.join(dir, 'objects-empty'));
    const archiver = new Archiver(store as unknown as QueryPort, objects);
    const m = await archiver.archiveDay('default', 'security_events', '2025-03-09', {
      compress: true,
      recipients: [],
      policy: {},
      now: new Date(),
    });
    expect(m).toMatchObject({ event_count: 0, first_id: null, last_id: null });
    expect(await archiver.read(m, undefined)).toEqual([]);
  });
});
