import { DataSource, EntityManager } from 'typeorm';
import { AuditEvent, parseTimestampMicros } from '@app/contracts';
import { collectNodes, completedNodes, leafHashOf, NodeId, nodeMap, NodeSource, perfectNodeHash } from './core';

export interface AppendInput {
  event: AuditEvent;
  partition: number;
  offset: string;
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

/** The perfect nodes on a tree's right edge: the only ones the next leaves hash with (one per set bit of size). */
export function frontierOf(size: number): NodeId[] {
  const out: NodeId[] = [];
  for (let level = 0; 2 ** level <= size; level++) {
    if (Math.floor(size / 2 ** level) % 2 === 1) out.push({ level, index: Math.floor(size / 2 ** level) - 1 });
  }
  return out;
}

/**
 * The lowest level of inner node the store keeps. A node of level 1-3 covers at most 8 leaves whose hashes are
 * stored anyway, and such nodes are 7 of every 8: the few a proof or the frontier reads are recomputed from
 * the ≤ 16 leaves of their block (one indexed read of leaf rows, ≤ 15 hashes), and an append writes about one
 * node row per 8 leaves instead of one per leaf.
 */
export const STORED_NODE_LEVEL = 4;

/** Tenants whose frontier is kept in memory; past it the oldest entry goes (re-read on its next append). */
const FRONTIER_CACHE_TENANTS = 10_000;

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

  /**
   * Appends the events in the given order; returns how many were new, per tenant. The leaves are written
   * without first looking up whether their ids are in the tree (about 6 µs per id on PGlite, for the rare
   * redelivery): the unique index on (tenant, event id) refuses a batch that repeats one, and only then is
   * it appended again, leaving out the ids the tree holds.
   */
  async append(tenantId: string, inputs: AppendInput[]): Promise<number> {
    const seen = new Set<string>();
    const unique = inputs.filter((i) => !seen.has(i.event.id) && seen.add(i.event.id));
    if (unique.length === 0) return 0;
    // Outside the transaction: the tree row's lock is held for the statements only, and a retry reuses them.
    const hashes = unique.map((i) => leafHashOf(i.event));
    try {
      return await this.appendOnce(tenantId, unique, hashes, false);
    } catch (e) {
      if (!isDuplicateLeaf(e)) throw e;
      return this.appendOnce(tenantId, unique, hashes, true);
    }
  }

  private async appendOnce(tenantId: string, inputs: AppendInput[], hashes: Buffer[], skipPresent: boolean): Promise<number> {
    const done = await this.ds.transaction(async (m) => {
      // Inserts the row or, if it exists, takes its row lock (ON CONFLICT DO UPDATE locks the row it updates
      // until the transaction ends, and returns its latest committed size after waiting for another holder).
      const [{ size: sizeText }] = (await m.query(
        `INSERT INTO integrity_trees (tenant_id) VALUES ($1)
         ON CONFLICT (tenant_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id RETURNING size`,
        [tenantId],
      )) as Array<{ size: string }>;
      const start = Number(sizeText);
      let size = start;
      let fresh = inputs.map((input, i) => ({ input, hash: hashes[i] }));
      if (skipPresent) {
        // A statement of its own, after the lock: its snapshot includes what the previous holder committed.
        const present = new Set(
          (
            (await m.query('SELECT event_id FROM integrity_leaves WHERE tenant_id = $1 AND event_id = ANY($2)', [
              tenantId,
              inputs.map((i) => i.event.id),
            ])) as Array<{ event_id: string }>
          ).map((r) => r.event_id),
        );
        fresh = fresh.filter((f) => !present.has(f.input.event.id));
      }
      if (fresh.length === 0) return null;
      const cached = this.frontiers.get(tenantId);
      const known = new Map<string, Buffer>();
      if (cached !== undefined && cached.size === start) {
        for (const [k, v] of cached.nodes) known.set(k, v);
      } else {
        for (const n of await this.fetchNodes(m, tenantId, frontierOf(start))) known.set(`${n.level}/${n.index}`, n.hash);
      }
      const left: NodeSource = (level, index) => {
        const hash = known.get(`${level}/${index}`);
        if (hash === undefined) throw new Error(`integrity tree of ${tenantId}: node ${level}/${index} of the frontier is missing`);
        return hash;
      };
      const leafIndex: number[] = [];
      const leafId: string[] = [];
      const leafHash: Buffer[] = [];
      const leafPartition: number[] = [];
      const leafOffset: string[] = [];
      const leafTime: number[] = [];
      const nodeLevel: number[] = [];
      const nodeIndex: number[] = [];
      const nodeHash: Buffer[] = [];
      for (const { input, hash } of fresh) {
        const index = size++;
        known.set(`0/${index}`, hash);
        leafIndex.push(index);
        leafId.push(input.event.id);
        leafHash.push(hash);
        leafPartition.push(input.partition);
        leafOffset.push(input.offset);
        leafTime.push(parseTimestampMicros(input.event.timestamp) ?? 0);
        for (const n of completedNodes(index, hash, left)) {
          known.set(`${n.level}/${n.index}`, n.hash);
          if (n.level < STORED_NODE_LEVEL) continue;
          nodeLevel.push(n.level);
          nodeIndex.push(n.index);
          nodeHash.push(n.hash);
        }
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
      const frontier = new Map<string, Buffer>();
      for (const n of frontierOf(size)) frontier.set(`${n.level}/${n.index}`, known.get(`${n.level}/${n.index}`)!);
      return { added: fresh.length, size, frontier };
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

  /** Leaves in index order, optionally those whose event time is in [fromUs, toUs). */
  async leaves(tenantId: string, fromUs?: number, toUs?: number): Promise<StoredLeaf[]> {
    const rows = (await this.ds.query(
      `SELECT leaf_index, event_id, leaf_hash, log_partition, log_offset FROM integrity_leaves
       WHERE tenant_id = $1 AND event_time_us >= $2 AND event_time_us < $3 ORDER BY leaf_index`,
      [tenantId, fromUs ?? 0, toUs ?? Number.MAX_SAFE_INTEGER],
    )) as LeafRow[];
    return rows.map(toLeaf);
  }

  /** Whether the events with these ids are in the tree at all (for "inserted" outside the verified range). */
  async knownIds(tenantId: string, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = (await this.ds.query('SELECT event_id FROM integrity_leaves WHERE tenant_id = $1 AND event_id = ANY($2)', [
      tenantId,
      ids,
    ])) as Array<{ event_id: string }>;
    return new Set(rows.map((r) => r.event_id));
  }

  /** The leaf index of each id, in the order given; −1 where the tree has none. */
  async leafIndices(tenantId: string, ids: string[]): Promise<number[]> {
    const byId = new Map<string, number>();
    // 5,000 ids per statement: PGlite's heap (WebAssembly memory) grows to its largest statement and stays there.
    for (let i = 0; i < ids.length; i += 5000) {
      const rows = (await this.ds.query('SELECT event_id, leaf_index FROM integrity_leaves WHERE tenant_id = $1 AND event_id = ANY($2)', [
        tenantId,
        ids.slice(i, i + 5000),
      ])) as Array<{ event_id: string; leaf_index: string }>;
      for (const r of rows) byId.set(r.event_id, Number(r.leaf_index));
    }
    return ids.map((id) => byId.get(id) ?? -1);
  }

  /** The leaf hashes at these indices (absent ones are left out). */
  async leafHashesAt(tenantId: string, indices: number[]): Promise<Array<{ index: number; hash: Buffer }>> {
    if (indices.length === 0) return [];
    const rows = (await this.ds.query('SELECT leaf_index, leaf_hash FROM integrity_leaves WHERE tenant_id = $1 AND leaf_index = ANY($2)', [
      tenantId,
      indices,
    ])) as Array<{ leaf_index: string; leaf_hash: Buffer }>;
    return rows.map((r) => ({ index: Number(r.leaf_index), hash: Buffer.from(r.leaf_hash) }));
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
