import { DataSource, EntityManager } from 'typeorm';
import { AuditEvent, parseTimestampMicros } from '@app/contracts';
import {
  collectNodes,
  extendTree,
  Frontier,
  frontierOf,
  GrownTree,
  leafHashOf,
  NodeId,
  nodeMap,
  NodeSource,
  perfectNodeHash,
  sameFrontier,
  STORED_NODE_LEVEL,
} from './core';

export interface AppendInput {
  event: AuditEvent;
  partition: number;
  offset: string;
}

/** A leaf as the tree stores it, hashed (leafHashOf) by the caller. */
export interface LeafInput {
  eventId: string;
  hash: Buffer;
  partition: number;
  offset: string;
  /** The event's timestamp, µs since the epoch. */
  timeUs: number;
}

export interface StoredLeaf {
  index: number;
  eventId: string;
  leafHash: Buffer;
  partition: number;
  offset: string;
}

export interface StoredCheckpoint {
  tenantId: string;
  size: number;
  rootHash: Buffer;
  note: string;
  reason: string;
  createdAt: string;
}

type Q = Pick<EntityManager, 'query'>;

export { extendTree, frontierOf, STORED_NODE_LEVEL } from './core';
export type { Frontier, GrownTree } from './core';

/** Tenants whose frontier is kept in memory; past it the oldest entry goes (re-read on its next append). */
const FRONTIER_CACHE_TENANTS = 10_000;

/** [fromUs, toUs) as statement parameters, an open end as the widest bound (validation keeps times after 2000). */
const timeBounds = (fromUs: number | undefined, toUs: number | undefined): [number, number] => [
  fromUs ?? 0,
  toUs ?? Number.MAX_SAFE_INTEGER,
];

/** Ids or indices per statement: PGlite's heap (WebAssembly memory) grows to its largest statement and stays there. */
const LOOKUP_CHUNK = 5000;

/**
 * The per-tenant trees in the configuration store. An append locks the tenant's tree row, so two consumers
 * (replicas sharing the group's partitions) never give out one leaf index twice; an event id already in the
 * tree is skipped, which makes redelivery harmless.
 *
 * The hot path is two statements in one transaction: lock the row and read the size (one upsert), and write
 * the leaves, the new nodes of level ≥ STORED_NODE_LEVEL and the new size (one statement of data-modifying
 * CTEs); a batch holding an id the tree has is refused by the unique index and appended again with a third
 * statement that leaves those ids out. The frontier the new nodes hash with comes from memory when this
 * process made the last append (the locked size equals the size it cached after its commit); after another
 * replica's append it is read from the store.
 */
export class TreeStore {
  private readonly frontiers = new Map<string, { size: number; nodes: Map<string, Buffer> }>();

  constructor(private readonly ds: DataSource) {}

  /** Appends the events in the given order (hashing their leaves here); returns how many were new. */
  async append(tenantId: string, inputs: AppendInput[]): Promise<number> {
    return this.appendLeaves(
      tenantId,
      inputs.map((i) => ({
        eventId: i.event.id,
        hash: leafHashOf(i.event),
        partition: i.partition,
        offset: i.offset,
        timeUs: parseTimestampMicros(i.event.timestamp) ?? 0,
      })),
    );
  }

  /**
   * Appends leaves already hashed (the consumer's, from its worker thread) in the given order; returns how
   * many were new. The leaves are written without first looking up whether their ids are in the tree (about
   * 6 µs per id on PGlite, for the rare redelivery): the unique index on (tenant, event id) refuses a batch
   * that repeats one, and only then is it appended again, leaving out the ids the tree holds.
   */
  async appendLeaves(tenantId: string, leaves: LeafInput[], precomputed?: GrownTree): Promise<number> {
    const seen = new Set<string>();
    const unique = leaves.filter((l) => !seen.has(l.eventId) && seen.add(l.eventId));
    if (unique.length === 0) return 0;
    // Computed for these very leaves only (the caller's list, already free of repeated ids).
    const usable = unique.length === leaves.length ? precomputed : undefined;
    try {
      return await this.appendOnce(tenantId, unique, false, usable);
    } catch (e) {
      if (!isDuplicateLeaf(e)) throw e;
      return this.appendOnce(tenantId, unique, true, undefined);
    }
  }

  /** The frontier of the last append this process committed for the tenant, if it has it. */
  committedFrontier(tenantId: string): { size: number; nodes: Frontier } | undefined {
    return this.frontiers.get(tenantId);
  }

  private async appendOnce(
    tenantId: string,
    inputs: LeafInput[],
    skipPresent: boolean,
    precomputed: GrownTree | undefined,
  ): Promise<number> {
    const done = await this.ds.transaction(async (m) => {
      // Inserts the row or, if it exists, takes its row lock (ON CONFLICT DO UPDATE locks the row it updates
      // until the transaction ends, and returns its latest committed size after waiting for another holder).
      const [{ size: sizeText }] = (await m.query(
        `INSERT INTO integrity_trees (tenant_id) VALUES ($1)
         ON CONFLICT (tenant_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id RETURNING size`,
        [tenantId],
      )) as Array<{ size: string }>;
      const start = Number(sizeText);
      let fresh = inputs;
      if (skipPresent) {
        // A statement of its own, after the lock: its snapshot includes what the previous holder committed.
        const present = new Set(
          (
            (await m.query('SELECT event_id FROM integrity_leaves WHERE tenant_id = $1 AND event_id = ANY($2)', [
              tenantId,
              inputs.map((i) => i.eventId),
            ])) as Array<{ event_id: string }>
          ).map((r) => r.event_id),
        );
        fresh = fresh.filter((f) => !present.has(f.eventId));
      }
      if (fresh.length === 0) return null;
      // The nodes the leaves complete: computed beforehand on the hasher's thread if it grew them from the very
      // frontier this process committed last and the tree is still at that size (nobody appended since), else
      // here from the cached or stored frontier.
      const cached = this.frontiers.get(tenantId);
      let grown =
        precomputed !== undefined &&
        fresh === inputs &&
        cached !== undefined &&
        cached.size === start &&
        precomputed.start === start &&
        sameFrontier(cached.nodes, precomputed.base)
          ? precomputed
          : undefined;
      if (grown === undefined) {
        let frontier: Frontier;
        if (cached !== undefined && cached.size === start) frontier = cached.nodes;
        else {
          frontier = new Map();
          for (const n of await this.fetchNodes(m, tenantId, frontierOf(start))) frontier.set(`${n.level}/${n.index}`, n.hash);
        }
        grown = extendTree(
          tenantId,
          start,
          frontier,
          fresh.map((f) => f.hash),
        );
      }
      const { nodeLevel, nodeIndex, nodeHash } = grown;
      const size = start + fresh.length;
      const leafIndex: number[] = [];
      const leafId: string[] = [];
      const leafHash: Buffer[] = [];
      const leafPartition: number[] = [];
      const leafOffset: string[] = [];
      const leafTime: number[] = [];
      let index = start;
      for (const { eventId, hash, partition, offset, timeUs } of fresh) {
        leafIndex.push(index++);
        leafId.push(eventId);
        leafHash.push(hash);
        leafPartition.push(partition);
        leafOffset.push(offset);
        leafTime.push(timeUs);
      }
      // Column arrays through unnest (7 parameters, not 7 per row: see docs/architecture.md "Integrity"), and
      // the three writes in one statement: data-modifying CTEs run once each, whether or not they are read.
      await m.query(
        `WITH leaves AS (
           INSERT INTO integrity_leaves (tenant_id, leaf_index, event_id, leaf_hash, log_partition, log_offset, event_time_us)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bytea[], $5::integer[], $6::text[], $7::bigint[])
         ), nodes AS (
           INSERT INTO integrity_nodes (tenant_id, level, node_index, hash)
           SELECT $1, * FROM unnest($8::smallint[], $9::bigint[], $10::bytea[])
         )
         UPDATE integrity_trees SET size = $11 WHERE tenant_id = $1`,
        [tenantId, leafIndex, leafId, leafHash, leafPartition, leafOffset, leafTime, nodeLevel, nodeIndex, nodeHash, size],
      );
      return { added: fresh.length, size, frontier: grown.frontier };
    });
    if (done === null) return 0;
    // Only once committed: a rolled-back append must not leave a frontier the store does not have.
    this.frontiers.delete(tenantId);
    if (this.frontiers.size >= FRONTIER_CACHE_TENANTS) this.frontiers.delete(this.frontiers.keys().next().value as string);
    this.frontiers.set(tenantId, { size: done.size, nodes: done.frontier });
    return done.added;
  }

  async size(tenantId: string): Promise<number> {
    const rows = (await this.ds.query('SELECT size FROM integrity_trees WHERE tenant_id = $1', [tenantId])) as Array<{ size: string }>;
    return rows.length === 0 ? 0 : Number(rows[0].size);
  }

  async tenants(): Promise<Array<{ tenantId: string; size: number; checkpointed: number }>> {
    const rows = (await this.ds.query(
      `SELECT t.tenant_id, t.size, COALESCE((SELECT max(tree_size) FROM integrity_checkpoints c WHERE c.tenant_id = t.tenant_id), -1) AS checkpointed
       FROM integrity_trees t`,
    )) as Array<{ tenant_id: string; size: string; checkpointed: string }>;
    return rows.map((r) => ({ tenantId: r.tenant_id, size: Number(r.size), checkpointed: Number(r.checkpointed) }));
  }

  /** Runs a pure computation over the tree's nodes: collects what it reads, fetches that at once, runs it. */
  async compute<T>(tenantId: string, fn: (node: NodeSource) => T): Promise<T> {
    const wanted = collectNodes(fn);
    return fn(nodeMap(await this.fetchNodes(this.ds, tenantId, wanted)));
  }

  /** Nodes of level ≥ STORED_NODE_LEVEL are read; lower ones (and leaves) are hashed from the leaf rows below. */
  private async fetchNodes(q: Q, tenantId: string, ids: NodeId[]): Promise<Array<NodeId & { hash: Buffer }>> {
    const lower = ids.filter((n) => n.level < STORED_NODE_LEVEL);
    const upper = ids.filter((n) => n.level >= STORED_NODE_LEVEL);
    const out: Array<NodeId & { hash: Buffer }> = [];
    if (lower.length > 0) {
      const wanted = new Set<number>();
      for (const n of lower) for (let i = n.index * 2 ** n.level; i < (n.index + 1) * 2 ** n.level; i++) wanted.add(i);
      const rows = (await q.query('SELECT leaf_index, leaf_hash FROM integrity_leaves WHERE tenant_id = $1 AND leaf_index = ANY($2)', [
        tenantId,
        [...wanted],
      ])) as Array<{ leaf_index: string; leaf_hash: Buffer }>;
      const leaves = new Map(rows.map((r) => [Number(r.leaf_index), Buffer.from(r.leaf_hash)]));
      for (const n of lower) {
        const first = n.index * 2 ** n.level;
        const below = Array.from({ length: 2 ** n.level }, (_, i) => leaves.get(first + i));
        // One leaf short and the node is left out: the caller's NodeSource names the node it lacks.
        if (below.every((h) => h !== undefined)) out.push({ ...n, hash: perfectNodeHash((i) => below[i - first]!, n.level, n.index) });
      }
    }
    if (upper.length > 0) {
      // One primary-key lookup per wanted node: LIMIT 1 keeps the planner from turning this into a join that
      // reads every node of the tenant (it did, on PGlite, with the table's statistics out of date).
      const rows = (await q.query(
        `SELECT w.level, w.node_index, n.hash FROM unnest($2::smallint[], $3::bigint[]) AS w(level, node_index)
         CROSS JOIN LATERAL (
           SELECT hash FROM integrity_nodes n WHERE n.tenant_id = $1 AND n.level = w.level AND n.node_index = w.node_index LIMIT 1
         ) n`,
        [tenantId, upper.map((n) => n.level), upper.map((n) => n.index)],
      )) as Array<{ level: number; node_index: string; hash: Buffer }>;
      for (const r of rows) out.push({ level: Number(r.level), index: Number(r.node_index), hash: Buffer.from(r.hash) });
    }
    return out;
  }

  async leafOf(tenantId: string, eventId: string): Promise<StoredLeaf | null> {
    const rows = (await this.ds.query(
      'SELECT leaf_index, event_id, leaf_hash, log_partition, log_offset FROM integrity_leaves WHERE tenant_id = $1 AND event_id = $2',
      [tenantId, eventId],
    )) as LeafRow[];
    return rows.length === 0 ? null : toLeaf(rows[0]);
  }

  /** Leaves in index order, optionally those whose event time is in [fromUs, toUs) (tests, small trees). */
  async leaves(tenantId: string, fromUs?: number, toUs?: number): Promise<StoredLeaf[]> {
    const size = await this.size(tenantId);
    const out: StoredLeaf[] = [];
    for (let after = -1; after < size - 1; after += LOOKUP_CHUNK) {
      out.push(
        ...(await this.leafPage(tenantId, { fromUs, toUs, afterIndex: after, throughIndex: Math.min(after + LOOKUP_CHUNK, size - 1) })),
      );
    }
    return out;
  }

  /**
   * The leaves with an index in (afterIndex, throughIndex] whose event time is in [fromUs, toUs), in index
   * order. The page is bounded by index, not by a LIMIT: PGlite has no autovacuum, so its tables have no
   * statistics, and the planner then answered `leaf_index > $after ... ORDER BY leaf_index LIMIT n` with a
   * bitmap scan of every leaf after `after` and a sort (a whole-tree walk became quadratic); an index range
   * of n leaves is read as n leaves whatever the plan.
   */
  async leafPage(
    tenantId: string,
    page: { fromUs?: number; toUs?: number; afterIndex: number; throughIndex: number },
  ): Promise<StoredLeaf[]> {
    const rows = (await this.ds.query(
      `SELECT leaf_index, event_id, leaf_hash, log_partition, log_offset FROM integrity_leaves
       WHERE tenant_id = $1 AND leaf_index > $2 AND leaf_index <= $3 AND event_time_us >= $4 AND event_time_us < $5
       ORDER BY leaf_index`,
      [tenantId, page.afterIndex, page.throughIndex, ...timeBounds(page.fromUs, page.toUs)],
    )) as LeafRow[];
    return rows.map(toLeaf);
  }

  /**
   * The first and last leaf index below `belowIndex` whose event time is in [fromUs, toUs), or null when
   * none is: the span a verification of that range walks. One aggregate over the block ranges the time
   * index (integrity_leaves_time, BRIN) puts in range, instead of every leaf of the tenant.
   */
  async leafIndexSpan(
    tenantId: string,
    fromUs: number | undefined,
    toUs: number | undefined,
    belowIndex: number,
  ): Promise<{ first: number; last: number } | null> {
    const [row] = (await this.ds.query(
      // `+ 0`: on min(leaf_index) alone the planner walks the primary key from one end, filtering on time, which
      // reads every leaf before (or after) the range; on an expression it takes the time index (Postgres 15,
      // 1M leaves: 187 ms against 32 ms).
      `SELECT min(leaf_index + 0)::float8 AS first, max(leaf_index + 0)::float8 AS last FROM integrity_leaves
       WHERE tenant_id = $1 AND leaf_index < $2 AND event_time_us >= $3 AND event_time_us < $4`,
      [tenantId, belowIndex, ...timeBounds(fromUs, toUs)],
    )) as Array<{ first: number | null; last: number | null }>;
    return row?.first == null || row.last == null ? null : { first: Number(row.first), last: Number(row.last) };
  }

  /**
   * The leaves of these event ids, wherever they are in the tree (absent ids are left out). A join on the
   * ids, so that each is one lookup in the (tenant, event id) index even with no table statistics (`= ANY`
   * was planned as a scan of the tenant's every leaf on PGlite).
   */
  async leavesByIds(tenantId: string, ids: string[]): Promise<Map<string, StoredLeaf>> {
    const out = new Map<string, StoredLeaf>();
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const rows = (await this.ds.query(
        `SELECT l.leaf_index, l.event_id, l.leaf_hash, l.log_partition, l.log_offset
         FROM unnest($2::text[]) AS wanted(id) JOIN integrity_leaves l ON l.tenant_id = $1 AND l.event_id = wanted.id`,
        [tenantId, ids.slice(i, i + LOOKUP_CHUNK)],
      )) as LeafRow[];
      for (const r of rows) out.set(r.event_id, toLeaf(r));
    }
    return out;
  }

  /**
   * The highest log offset per partition among the leaves below `belowIndex` whose event time is in
   * [fromUs, toUs): how far the tree had consumed each partition (computed by the database, not in memory).
   */
  async reached(tenantId: string, fromUs: number | undefined, toUs: number | undefined, belowIndex: number): Promise<Map<number, bigint>> {
    const rows = (await this.ds.query(
      `SELECT log_partition, max(log_offset::numeric)::text AS log_offset FROM integrity_leaves
       WHERE tenant_id = $1 AND leaf_index < $2 AND event_time_us >= $3 AND event_time_us < $4 GROUP BY log_partition`,
      [tenantId, belowIndex, ...timeBounds(fromUs, toUs)],
    )) as Array<{ log_partition: number; log_offset: string }>;
    return new Map(rows.map((r) => [Number(r.log_partition), BigInt(r.log_offset)]));
  }

  /**
   * The leaf index of each id, in the order given; −1 where the tree has none. Only the index comes back (an
   * archive asks this for every event it writes): the ids are matched in the database, in their order.
   */
  async leafIndices(tenantId: string, ids: string[]): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const rows = (await this.ds.query(
        `SELECT coalesce(l.leaf_index, -1)::float8 AS i
         FROM unnest($2::text[]) WITH ORDINALITY AS wanted(id, n)
         LEFT JOIN integrity_leaves l ON l.tenant_id = $1 AND l.event_id = wanted.id
         ORDER BY wanted.n`,
        [tenantId, ids.slice(i, i + LOOKUP_CHUNK)],
      )) as Array<{ i: number }>;
      for (const r of rows) out.push(r.i);
    }
    return out;
  }

  /** The leaf hashes at these indices (absent ones are left out); a join on them, like the lookups by id. */
  async leafHashesAt(tenantId: string, indices: number[]): Promise<Array<{ index: number; hash: Buffer }>> {
    if (indices.length === 0) return [];
    const rows = (await this.ds.query(
      `SELECT l.leaf_index::float8 AS leaf_index, l.leaf_hash
       FROM unnest($2::bigint[]) AS wanted(i) JOIN integrity_leaves l ON l.tenant_id = $1 AND l.leaf_index = wanted.i`,
      [tenantId, indices],
    )) as Array<{ leaf_index: number; leaf_hash: Buffer }>;
    return rows.map((r) => ({ index: r.leaf_index, hash: Buffer.from(r.leaf_hash) }));
  }

  /** Saves a checkpoint; one per (tenant, size): signing a size again keeps the first. Returns whether it was new. */
  async saveCheckpoint(c: Omit<StoredCheckpoint, 'createdAt'>): Promise<boolean> {
    const rows = (await this.ds.query(
      `INSERT INTO integrity_checkpoints (tenant_id, tree_size, root_hash, note, reason) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING RETURNING tree_size`,
      [c.tenantId, c.size, c.rootHash, c.note, c.reason],
    )) as unknown[];
    return rows.length > 0;
  }

  async checkpoint(tenantId: string, size?: number): Promise<StoredCheckpoint | null> {
    const rows = (await this.ds.query(
      size === undefined
        ? `SELECT * FROM integrity_checkpoints WHERE tenant_id = $1 ORDER BY tree_size DESC LIMIT 1`
        : `SELECT * FROM integrity_checkpoints WHERE tenant_id = $1 AND tree_size = $2`,
      size === undefined ? [tenantId] : [tenantId, size],
    )) as Array<{ tenant_id: string; tree_size: string; root_hash: Buffer; note: string; reason: string; created_at: Date | string }>;
    if (rows.length === 0) return null;
    const r = rows[0];
    return {
      tenantId: r.tenant_id,
      size: Number(r.tree_size),
      rootHash: Buffer.from(r.root_hash),
      note: r.note,
      reason: r.reason,
      createdAt: new Date(r.created_at).toISOString(),
    };
  }
}

interface LeafRow {
  leaf_index: string;
  event_id: string;
  leaf_hash: Buffer;
  log_partition: number;
  log_offset: string;
}

/** The unique index on (tenant, event id) refused a leaf: an event of the batch is in the tree already. */
function isDuplicateLeaf(e: unknown): boolean {
  const err = e as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = err.code ?? err.driverError?.code;
  const constraint = err.constraint ?? err.driverError?.constraint;
  return code === '23505' && constraint === 'integrity_leaves_event';
}

function toLeaf(r: LeafRow): StoredLeaf {
  return {
    index: Number(r.leaf_index),
    eventId: r.event_id,
    leafHash: Buffer.from(r.leaf_hash),
    partition: Number(r.log_partition),
    offset: String(r.log_offset),
  };
}
