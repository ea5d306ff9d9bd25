import { DataSource } from 'typeorm';
import type { PolicyRemoval } from './integrity.port';

/** Ids per lookup: one bound array each, so a verify of a million missing leaves is a hundred statements. */
const LOOKUP_CHUNK = 10_000;

/**
 * What retention removed from the query store, so verification tells a policy's deletion from tampering
 * (C2SP tlog-tiles "pruning", docs/architecture.md "Integrity"). Retention deletes by category and UTC day, and
 * leaves are in log order, not time order, so a removal is not in general a prefix of the tree: each removed
 * event is recorded by id (an id, not a leaf index, because the tree's consumer may not have reached the event
 * yet when retention removes it). Where the removed leaves do form a prefix, the tenant's minimum index rises
 * past it and the id rows below it are dropped: the index says the same in one number.
 *
 * The tree is never pruned here: leaf hashes and nodes stay, so every proof and consistency proof still
 * computes, and an archived copy of a removed event still proves its inclusion.
 */
export class PruningStore {
  constructor(private readonly ds: DataSource) {}

  /** Records the events as removed by policy (again is harmless); answers how many were new. */
  async record(tenantId: string, removal: PolicyRemoval): Promise<number> {
    if (removal.ids.length === 0) return 0;
    const rows = (await this.ds.query(
      // An id whose leaf is below the minimum index is covered already (its row was folded into the index).
      `INSERT INTO integrity_pruned (tenant_id, event_id, category, day, reason)
       SELECT $1, u.id, $3, $4, $5 FROM unnest($2::text[]) AS u(id)
       WHERE NOT EXISTS (
         SELECT 1 FROM integrity_leaves l
         WHERE l.tenant_id = $1 AND l.event_id = u.id
           AND l.leaf_index < COALESCE((SELECT min_index FROM integrity_min_index WHERE tenant_id = $1), 0))
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [tenantId, [...new Set(removal.ids)], removal.category, removal.day, removal.reason],
    )) as unknown[];
    return rows.length;
  }

  /**
   * Raises the tenant's minimum index to its first leaf whose event was not removed by policy (the tree's size
   * when there is none), and drops the id rows the index now covers. Serialised per tenant by the row lock.
   */
  async raiseMinIndex(tenantId: string): Promise<number> {
    return this.ds.transaction(async (m) => {
      const [{ min_index: current }] = (await m.query(
        `INSERT INTO integrity_min_index (tenant_id) VALUES ($1)
         ON CONFLICT (tenant_id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id RETURNING min_index`,
        [tenantId],
      )) as Array<{ min_index: string }>;
      // The size first: a leaf appended after it was read cannot be skipped over by the lookup below.
      const sizes = (await m.query('SELECT size FROM integrity_trees WHERE tenant_id = $1', [tenantId])) as Array<{ size: string }>;
      const size = sizes.length === 0 ? 0 : Number(sizes[0].size);
      const from = Number(current);
      // Walks the primary key from the current index and stops at the first leaf not recorded.
      const next = (await m.query(
        `SELECT l.leaf_index FROM integrity_leaves l
         WHERE l.tenant_id = $1 AND l.leaf_index >= $2 AND l.leaf_index < $3
           AND NOT EXISTS (SELECT 1 FROM integrity_pruned p WHERE p.tenant_id = $1 AND p.event_id = l.event_id)
         ORDER BY l.leaf_index LIMIT 1`,
        [tenantId, from, size],
      )) as Array<{ leaf_index: string }>;
      const to = next.length === 0 ? Math.max(size, from) : Number(next[0].leaf_index);
      if (to > from) {
        await m.query('UPDATE integrity_min_index SET min_index = $2, raised_at = now() WHERE tenant_id = $1', [tenantId, to]);
        await m.query(
          `DELETE FROM integrity_pruned p USING integrity_leaves l
           WHERE p.tenant_id = $1 AND l.tenant_id = $1 AND l.event_id = p.event_id AND l.leaf_index < $2`,
          [tenantId, to],
        );
      }
      return to;
    });
  }

  async minIndex(tenantId: string): Promise<number> {
    const rows = (await this.ds.query('SELECT min_index FROM integrity_min_index WHERE tenant_id = $1', [tenantId])) as Array<{
      min_index: string;
    }>;
    return rows.length === 0 ? 0 : Number(rows[0].min_index);
  }

  /** Which of these ids a policy removed (those above the minimum index; below it, every leaf was). */
  async removedAmong(tenantId: string, ids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
      const rows = (await this.ds.query('SELECT event_id FROM integrity_pruned WHERE tenant_id = $1 AND event_id = ANY($2)', [
        tenantId,
        ids.slice(i, i + LOOKUP_CHUNK),
      ])) as Array<{ event_id: string }>;
      for (const r of rows) out.add(r.event_id);
    }
    return out;
  }
}
