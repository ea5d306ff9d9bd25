import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AuditEvent } from '@app/contracts';
import { createDataSource } from '@app/persistence';
import {
  consistencyProof,
  inclusionProof,
  INTEGRITY_MIGRATIONS,
  leafHashOf,
  loadSigningKey,
  memoryTree,
  rootHash,
  STORED_NODE_LEVEL,
  subsetRoot,
  TreeStore,
  verifierKeyText,
  verifyInclusion,
} from '@app/integrity';
import { TEST_DATABASE_URL } from './support/environment';
import { auditEvent } from './support/postgres';

// The database is shared with other suites: this one only touches its own tenants (and the key row).
const run = randomUUID().slice(0, 8);
const T = (name: string) => `${name}-${run}`;

const event = (i: number, tenant = T('t1')): AuditEvent =>
  auditEvent({
    id: `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    tenant_id: tenant,
    description: `event ${i}`,
    metadata: { i },
  });
const input = (i: number, tenant = T('t1')) => ({ event: event(i, tenant), partition: 0, offset: String(i) });

describe(`${TreeStore.name} on Postgres`, () => {
  let dir: string;
  let ds: DataSource;
  let store: TreeStore;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'integrity-tree-'));
    ds = await createDataSource({
      target: { kind: 'pg', url: TEST_DATABASE_URL },
      entities: [],
      migrations: INTEGRITY_MIGRATIONS,
    });
    store = new TreeStore(ds);
  }, 60_000);
  afterAll(async () => {
    for (const t of ['integrity_trees', 'integrity_leaves', 'integrity_nodes', 'integrity_checkpoints']) {
      await ds.query(`DELETE FROM ${t} WHERE tenant_id LIKE $1`, [`%-${run}`]);
    }
    await ds.query(`DELETE FROM integrity_keys WHERE name = 'signing'`);
    await ds.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should build, batch by batch, the tree an in-memory build gives, and prove from stored nodes', async () => {
    // given 37 events appended in uneven batches
    const all = Array.from({ length: 37 }, (_, i) => i);
    for (const batch of [all.slice(0, 1), all.slice(1, 8), all.slice(8, 9), all.slice(9, 30), all.slice(30)]) {
      await store.append(
        T('t1'),
        batch.map((i) => input(i)),
      );
    }
    // then roots, inclusion and consistency proofs equal the reference
    const reference = memoryTree(all.map((i) => leafHashOf(event(i))));
    expect(await store.size(T('t1'))).toBe(37);
    for (const size of [1, 2, 13, 32, 37])
      expect(await store.compute(T('t1'), (n) => rootHash(n, size))).toEqual(rootHash(reference, size));
    expect(await store.compute(T('t1'), (n) => inclusionProof(n, 17, 37))).toEqual(inclusionProof(reference, 17, 37));
    expect(await store.compute(T('t1'), (n) => consistencyProof(n, 13, 37))).toEqual(consistencyProof(reference, 13, 37));
    const leaf = await store.leafOf(T('t1'), event(17).id);
    expect(leaf?.index).toBe(17);
    const proof = await store.compute(T('t1'), (n) => inclusionProof(n, 17, 37));
    expect(verifyInclusion(17, 37, leaf!.leafHash, proof, rootHash(reference, 37))).toBe(true);
    // and only the upper nodes are rows: 37 leaves complete 2 nodes of level 4 and 1 of level 5
    const nodes = (await ds.query('SELECT level, node_index FROM integrity_nodes WHERE tenant_id = $1 ORDER BY level, node_index', [
      T('t1'),
    ])) as Array<{ level: number; node_index: string }>;
    expect(nodes.map((n) => `${n.level}/${n.node_index}`)).toEqual(['4/0', '4/1', '5/0']);
  });

  it('should refuse a redelivered batch whole and then append only its new events, at the next indexes', async () => {
    // given 20 events in the tree, and a batch repeating the last 3 before 2 new ones
    await store.append(
      T('t5'),
      Array.from({ length: 20 }, (_, i) => input(i, T('t5'))),
    );
    expect(
      await store.append(
        T('t5'),
        [17, 18, 19, 20, 21].map((i) => input(i, T('t5'))),
      ),
    ).toBe(2);
    // then the new ones got 20 and 21, and every proof still matches the reference
    const reference = memoryTree(Array.from({ length: 22 }, (_, i) => leafHashOf(event(i, T('t5')))));
    expect((await store.leafOf(T('t5'), event(21, T('t5')).id))?.index).toBe(21);
    for (const i of [0, 15, 16, 21]) {
      expect(await store.compute(T('t5'), (n) => inclusionProof(n, i, 22))).toEqual(inclusionProof(reference, i, 22));
    }
  });

  it("should find an archive's leaves by event id, and their hashes by index, for its subset root", async () => {
    // given ten events in the tree
    await store.append(
      T('t5'),
      Array.from({ length: 10 }, (_, i) => input(i, T('t5'))),
    );
    // when an archive's events (some of them, in their own order, and one the tree never saw) are looked up
    const ids = [7, 2, 5].map((i) => event(i, T('t5')).id);
    const indices = await store.leafIndices(T('t5'), [...ids, event(99, T('t5')).id]);
    // then each gets its leaf index, the unknown one -1, and the hashes give the tree hash over 2, 5, 7
    expect(indices).toEqual([7, 2, 5, -1]);
    const hashes = await store.leafHashesAt(
      T('t5'),
      indices.filter((i) => i >= 0),
    );
    const expected = [2, 5, 7].map((i) => leafHashOf(event(i, T('t5'))));
    expect(subsetRoot(hashes)).toEqual(rootHash(memoryTree(expected), 3));
    expect(await store.leafIndices(T('t5'), [])).toEqual([]);
  });

  it('should append nothing twice when a batch is redelivered, whole or overlapping', async () => {
    expect(
      await store.append(
        T('t2'),
        [0, 1, 2, 3].map((i) => input(i, T('t2'))),
      ),
    ).toBe(4);
    expect(
      await store.append(
        T('t2'),
        [0, 1, 2, 3].map((i) => input(i, T('t2'))),
      ),
    ).toBe(0);
    expect(
      await store.append(
        T('t2'),
        [2, 3, 4, 4].map((i) => input(i, T('t2'))),
      ),
    ).toBe(1);
    expect(await store.size(T('t2'))).toBe(5);
    expect((await store.leaves(T('t2'))).map((l) => l.index)).toEqual([0, 1, 2, 3, 4]);
  });

  it('should page leaves by index, look them up by id and give the highest offset per partition as a number', async () => {
    // given 12 leaves on two partitions, offsets 0-11 (so "9" and "11" compare as numbers, not as text)
    const t = T('pages');
    await store.append(
      t,
      Array.from({ length: 12 }, (_, i) => ({ event: event(i, t), partition: i % 2, offset: String(i) })),
    );
    // then pages bounded by index walk the tree in order
    expect((await store.leafPage(t, { afterIndex: -1, throughIndex: 4 })).map((l) => l.index)).toEqual([0, 1, 2, 3, 4]);
    expect((await store.leafPage(t, { afterIndex: 4, throughIndex: 7 })).map((l) => l.index)).toEqual([5, 6, 7]);
    expect(await store.leafPage(t, { afterIndex: -1, throughIndex: 11, fromUs: Date.now() * 1000 + 3600e6 })).toEqual([]);
    expect((await store.leafPage(t, { afterIndex: -1, throughIndex: 11, fromUs: 0, toUs: Date.now() * 1000 + 3600e6 })).length).toBe(12);
    expect(await store.leafPage(t, { afterIndex: 11, throughIndex: 20 })).toEqual([]);
    // and the span of indices a time range covers, below a bound, through the BRIN time index
    const future = Date.now() * 1000 + 3600e6;
    expect(await store.leafIndexSpan(t, 0, future, 12)).toEqual({ first: 0, last: 11 });
    expect(await store.leafIndexSpan(t, undefined, undefined, 10)).toEqual({ first: 0, last: 9 });
    expect(await store.leafIndexSpan(t, future, undefined, 12)).toBeNull();
    expect(await ds.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'integrity_leaves_time'`)).toEqual([
      { indexdef: expect.stringContaining('USING brin (event_time_us)') },
    ]);
    expect((await store.leaves(t)).map((l) => l.index)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    // and a lookup by id finds those in the tree only
    const found = await store.leavesByIds(t, [event(3, t).id, event(99, t).id, event(10, t).id]);
    expect([...found.keys()].sort()).toEqual([event(10, t).id, event(3, t).id].sort());
    expect(found.get(event(3, t).id)).toMatchObject({ index: 3, partition: 1, offset: '3', leafHash: leafHashOf(event(3, t)) });
    // and the highest offsets per partition, below an index bound, are numbers
    expect(await store.reached(t, undefined, undefined, 12)).toEqual(
      new Map([
        [0, 10n],
        [1, 11n],
      ]),
    );
    expect(await store.reached(t, undefined, undefined, 10)).toEqual(
      new Map([
        [0, 8n],
        [1, 9n],
      ]),
    );
  });

  it('should give out each index once when appends of one tenant run at once', async () => {
    // given 8 appends of 3 events each, started together (each on its own pool connection)
    await Promise.all(
      Array.from({ length: 8 }, (_, b) =>
        store.append(
          T('t3'),
          [0, 1, 2].map((i) => input(b * 3 + i, T('t3'))),
        ),
      ),
    );
    const leaves = await store.leaves(T('t3'));
    expect(leaves.map((l) => l.index)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(new Set(leaves.map((l) => l.eventId)).size).toBe(24);
    // and the nodes written concurrently still form the tree of the leaves in index order
    const reference = memoryTree(leaves.map((l) => l.leafHash));
    expect(await store.compute(T('t3'), (n) => rootHash(n, 24))).toEqual(rootHash(reference, 24));
  });

  it('should re-read the frontier it cached when another replica appended in between', async () => {
    // given two stores (two replicas) appending to one tenant in turn: each one's cached frontier goes stale
    const other = new TreeStore(ds);
    const all = Array.from({ length: 21 }, (_, i) => i);
    const turns = [all.slice(0, 3), all.slice(3, 4), all.slice(4, 11), all.slice(11, 12), all.slice(12, 13), all.slice(13)];
    for (const [n, batch] of turns.entries()) {
      await (n % 2 === 0 ? store : other).append(
        T('t4'),
        batch.map((i) => input(i, T('t4'))),
      );
    }
    // then the stored nodes are the tree of the leaves in order
    const reference = memoryTree(all.map((i) => leafHashOf(event(i, T('t4')))));
    for (const size of [3, 11, 16, 21]) {
      expect(await store.compute(T('t4'), (n) => rootHash(n, size))).toEqual(rootHash(reference, size));
    }
    expect(await store.compute(T('t4'), (n) => consistencyProof(n, 4, 21))).toEqual(consistencyProof(reference, 4, 21));
  });

  it('should keep one checkpoint per size: signing a size again keeps the first', async () => {
    const c = { tenantId: T('t1'), size: 37, rootHash: Buffer.alloc(32, 1), note: 'first', reason: 'on_demand' };
    expect(await store.saveCheckpoint(c)).toBe(true);
    expect(await store.saveCheckpoint({ ...c, note: 'second' })).toBe(false);
    expect((await store.checkpoint(T('t1')))?.note).toBe('first');
  });

  describe('the migration to upper nodes only (in a database of its own)', () => {
    it('should give back the lower nodes when undone and drop them again, every proof the same throughout', async () => {
      // given a tree of 45 events in a fresh store (undoing a migration must not touch the shared tables)
      const database = `integrity_migration_${run.replace(/-/g, '')}`;
      const admin = new Client({ connectionString: TEST_DATABASE_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`);
      const opened = createDataSource({
        target: { kind: 'pg', url: TEST_DATABASE_URL.replace(/\/[^/]*$/, `/${database}`) },
        entities: [],
        migrations: INTEGRITY_MIGRATIONS,
      });
      try {
        const local = await opened;
        const tree = new TreeStore(local);
        await tree.append(
          't',
          Array.from({ length: 45 }, (_, i) => input(i, 't')),
        );
        const reference = memoryTree(Array.from({ length: 45 }, (_, i) => leafHashOf(event(i, 't'))));
        const levels = async () =>
          (
            (await local.query('SELECT level, count(*)::int AS n FROM integrity_nodes GROUP BY level ORDER BY level')) as Array<{
              level: number;
              n: number;
            }>
          ).map((r) => `${r.level}:${r.n}`);
        expect(await levels()).toEqual(['4:2', '5:1']);
        // when undone (the time index's migration, which drops it, then this one), the nodes of levels 1-3
        // are back, each the reference tree's
        await local.undoLastMigration({ transaction: 'each' });
        expect(await local.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'integrity_leaves_time'`)).toEqual([]);
        await local.undoLastMigration({ transaction: 'each' });
        expect(await levels()).toEqual(['1:22', '2:11', '3:5', '4:2', '5:1']);
        const lower = (await local.query('SELECT level, node_index, hash FROM integrity_nodes WHERE level < $1', [
          STORED_NODE_LEVEL,
        ])) as Array<{
          level: number;
          node_index: string;
          hash: Buffer;
        }>;
        for (const n of lower) expect(Buffer.from(n.hash)).toEqual(reference(n.level, Number(n.node_index)));
        // and when run again they go, and proofs and roots still match
        await local.runMigrations({ transaction: 'each' });
        expect(await levels()).toEqual(['4:2', '5:1']);
        const fresh = new TreeStore(local);
        expect(await fresh.compute('t', (n) => rootHash(n, 45))).toEqual(rootHash(reference, 45));
        expect(await fresh.compute('t', (n) => inclusionProof(n, 33, 45))).toEqual(inclusionProof(reference, 33, 45));
        expect(await fresh.compute('t', (n) => consistencyProof(n, 7, 45))).toEqual(consistencyProof(reference, 7, 45));
      } finally {
        await (await opened.catch(() => undefined))?.destroy();
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await admin.end();
      }
    }, 60_000);
  });

  describe(loadSigningKey.name, () => {
    it('should generate a key once, store it encrypted and load the same one again', async () => {
      await ds.query(`DELETE FROM integrity_keys WHERE name = 'signing'`);
      const first = await loadSigningKey(ds, { dataDir: dir });
      const again = await loadSigningKey(ds, { dataDir: dir });
      expect([first.source, again.source]).toEqual(['generated', 'stored']);
      expect(verifierKeyText({ name: 'k', privateKey: again.key })).toBe(verifierKeyText({ name: 'k', privateKey: first.key }));
      const [row] = (await ds.query(`SELECT encrypted_pkcs8 FROM integrity_keys`)) as Array<{ encrypted_pkcs8: string }>;
      expect(row.encrypted_pkcs8).toContain('BEGIN ENCRYPTED PRIVATE KEY');
      await expect(loadSigningKey(ds, { dataDir: dir, passphrase: 'not the one' })).rejects.toThrow(/AUDIT_INTEGRITY_KEY_PASSPHRASE/);
      await expect(loadSigningKey(ds, { dataDir: mkdtempSync(path.join(tmpdir(), 'other-')) })).rejects.toThrow(/another passphrase/);
    });
  });
});
