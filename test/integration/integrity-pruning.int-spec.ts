import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditEvent } from '@app/contracts';
import { createDataSource } from '@app/persistence';
import {
  consistencyProof,
  INTEGRITY_MIGRATIONS,
  memoryTree,
  PRUNING_MIGRATIONS,
  PruningStore,
  rootHash,
  TreeStore,
  verifyConsistency,
} from '@app/integrity';
import { TEST_DATABASE_URL } from './support/environment';
import { auditEvent } from './support/postgres';

// The database is shared with other suites: this one only touches its own tenants.
const run = randomUUID().slice(0, 8);
const TENANT = `pruning-${run}`;
const id = (i: number) => `01900000-0000-7000-9000-${String(i).padStart(12, '0')}`;

const event = (i: number): AuditEvent => auditEvent({ id: id(i), tenant_id: TENANT, description: `event ${i}`, metadata: { i } });

describe(`${PruningStore.name} on Postgres`, () => {
  let ds: DataSource;
  let tree: TreeStore;
  let sut: PruningStore;
  const removal = (ids: number[]) => ({ category: 'user_actions', day: '2026-01-01', reason: 'deleted' as const, ids: ids.map(id) });
  const append = (from: number, to: number) =>
    tree.append(
      TENANT,
      Array.from({ length: to - from }, (_, k) => ({ event: event(from + k), partition: 0, offset: String(from + k) })),
    );

  beforeAll(async () => {
    ds = await createDataSource({
      target: { kind: 'pg', url: TEST_DATABASE_URL },
      entities: [],
      migrations: [...INTEGRITY_MIGRATIONS, ...PRUNING_MIGRATIONS],
    });
    tree = new TreeStore(ds);
    sut = new PruningStore(ds);
  }, 60_000);
  afterAll(async () => {
    for (const t of ['integrity_trees', 'integrity_leaves', 'integrity_nodes', 'integrity_pruned', 'integrity_min_index']) {
      await ds.query(`DELETE FROM ${t} WHERE tenant_id = $1`, [TENANT]);
    }
    await ds.destroy();
  });

  it('should raise the minimum index over a removed prefix only, and keep removals elsewhere by id', async () => {
    // given a tree of 10 leaves, signed at 10
    await append(0, 10);
    const root10 = await tree.compute(TENANT, (n) => rootHash(n, 10));

    // when the first three are removed by policy, then the index rises past them and their rows are folded in
    expect(await sut.record(TENANT, removal([0, 1, 2]))).toBe(3);
    expect(await sut.raiseMinIndex(TENANT)).toBe(3);
    expect(await sut.minIndex(TENANT)).toBe(3);
    expect(await sut.removedAmong(TENANT, [id(0), id(1), id(2)])).toEqual(new Set());

    // when leaves after a kept one go, then they are kept by id and the index stays
    expect(await sut.record(TENANT, removal([5, 6]))).toBe(2);
    expect(await sut.raiseMinIndex(TENANT)).toBe(3);
    expect(await sut.removedAmong(TENANT, [id(5), id(6), id(7)])).toEqual(new Set([id(5), id(6)]));

    // when the gap closes, then the index jumps over the ids recorded before
    expect(await sut.record(TENANT, removal([3, 4]))).toBe(2);
    expect(await sut.raiseMinIndex(TENANT)).toBe(7);
    expect(await sut.removedAmong(TENANT, [id(5), id(6)])).toEqual(new Set());

    // a redone run records nothing twice
    expect(await sut.record(TENANT, removal([3, 4, 7]))).toBe(1);
    expect(await sut.raiseMinIndex(TENANT)).toBe(8);

    // when an event is removed before the tree's consumer reached it, then its leaf counts once appended
    expect(await sut.record(TENANT, removal([12]))).toBe(1);
    expect(await sut.raiseMinIndex(TENANT)).toBe(8);
    await append(10, 14);
    expect(await sut.removedAmong(TENANT, [id(12), id(13)])).toEqual(new Set([id(12)]));
    expect(await sut.record(TENANT, removal([8, 9, 10, 11]))).toBe(4);
    expect(await sut.raiseMinIndex(TENANT)).toBe(13);

    // when everything went, then the index is the tree's size, and the next leaf is above it
    expect(await sut.record(TENANT, removal([13]))).toBe(1);
    expect(await sut.raiseMinIndex(TENANT)).toBe(14);
    await append(14, 15);
    expect(await sut.raiseMinIndex(TENANT)).toBe(14);

    // and the tree is untouched: its root is the in-memory build's, and consistent with the one before the prune
    const stored = (await ds.query('SELECT leaf_hash FROM integrity_leaves WHERE tenant_id = $1 ORDER BY leaf_index', [TENANT])) as Array<{
      leaf_hash: Buffer;
    }>;
    expect(stored).toHaveLength(15);
    const root15 = await tree.compute(TENANT, (n) => rootHash(n, 15));
    expect(root15.equals(rootHash(memoryTree(stored.map((r) => Buffer.from(r.leaf_hash))), 15))).toBe(true);
    const proof = await tree.compute(TENANT, (n) => consistencyProof(n, 10, 15));
    expect(verifyConsistency(10, 15, proof, root10, root15)).toBe(true);
  });

  it('should answer 0 for a tenant with no tree and no removals', async () => {
    const other = `${TENANT}-none`;
    expect(await sut.raiseMinIndex(other)).toBe(0);
    expect(await sut.minIndex(other)).toBe(0);
    await ds.query('DELETE FROM integrity_min_index WHERE tenant_id = $1', [other]);
  });
});
