import { DataSource, EntityManager } from 'typeorm';
import { SourceState } from './core/tracker';

/** The advisory-lock class of completeness sources (the first key of pg_advisory_xact_lock(int, int)). */
const SOURCE_LOCK_CLASS = 0x636f6d70;

export interface StoredSource {
  tenantId: string;
  source: string;
  state: SourceState;
}

/** The tracker's state in the configuration store, one row per (tenant, source). */
export class CompletenessStore {
  constructor(private readonly ds: DataSource) {}

  /** Runs `work` with the named sources' rows locked, so two consumers of one group never interleave a source. */
  transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  async load(m: EntityManager, tenantId: string, source: string): Promise<SourceState | undefined> {
    // FOR UPDATE locks nothing while the source has no row yet: consumers of other partitions reading a new
    // source's first events at once would each save a state holding only their own (a lost update). The
    // transaction's advisory lock on the (tenant, source) pair serialises them, row or no row.
    await m.query('SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(1) || $3))', [SOURCE_LOCK_CLASS, tenantId, source]);
    const rows = (await m.query('SELECT state FROM completeness_sources WHERE tenant_id = $1 AND source = $2 FOR UPDATE', [
      tenantId,
      source,
    ])) as Array<{ state: SourceState }>;
    return rows[0]?.state;
  }

  async save(m: EntityManager | DataSource, tenantId: string, source: string, state: SourceState): Promise<void> {
    await m.query(
      `INSERT INTO completeness_sources (tenant_id, source, state, last_sequence, gaps_open, last_seen_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision / 1e6), now())
       ON CONFLICT (tenant_id, source) DO UPDATE SET state = EXCLUDED.state, last_sequence = EXCLUDED.last_sequence,
         gaps_open = EXCLUDED.gaps_open, last_seen_at = EXCLUDED.last_seen_at, updated_at = now()`,
      [tenantId, source, JSON.stringify(state), state.last, state.gaps.length, state.lastSeenUs],
    );
  }

  async list(tenantId?: string, limit = 1000): Promise<StoredSource[]> {
    const rows = (await this.ds.query(
      tenantId === undefined
        ? 'SELECT tenant_id, source, state FROM completeness_sources ORDER BY tenant_id, source LIMIT $1'
        : 'SELECT tenant_id, source, state FROM completeness_sources WHERE tenant_id = $2 ORDER BY source LIMIT $1',
      tenantId === undefined ? [limit] : [limit, tenantId],
    )) as Array<{ tenant_id: string; source: string; state: SourceState }>;
    return rows.map((r) => ({ tenantId: r.tenant_id, source: r.source, state: r.state }));
  }

  /** The sources quiet for at least `quietMs` and not yet marked silent: the only ones the silence check reads. */
  async quiet(quietMs: number, limit = 10_000): Promise<StoredSource[]> {
    const rows = (await this.ds.query(
      `SELECT tenant_id, source, state FROM completeness_sources
       WHERE last_seen_at < now() - make_interval(secs => $1::double precision / 1000) AND state->'silentSinceUs' = 'null'::jsonb
       ORDER BY last_seen_at LIMIT $2`,
      [quietMs, limit],
    )) as Array<{ tenant_id: string; source: string; state: SourceState }>;
    return rows.map((r) => ({ tenantId: r.tenant_id, source: r.source, state: r.state }));
  }

  /** Totals over every source, computed in SQL (the states hold up to RECENT_WINDOW ids each: never loaded for this). */
  async totals(): Promise<{ sources: number; gaps_open: number; missing: number; duplicates: number; silent: number }> {
    const [row] = (await this.ds.query(
      `SELECT count(*)::int AS sources, coalesce(sum(gaps_open), 0)::int AS gaps_open,
         coalesce(sum((state->>'duplicates')::bigint), 0)::bigint AS duplicates,
         count(*) FILTER (WHERE state->'silentSinceUs' <> 'null'::jsonb)::int AS silent,
         coalesce((SELECT sum((g->>1)::bigint - (g->>0)::bigint + 1) FROM completeness_sources c2,
           jsonb_array_elements(c2.state->'gaps') g), 0)::bigint AS missing
       FROM completeness_sources`,
    )) as Array<{ sources: number; gaps_open: number; missing: string | number; duplicates: string | number; silent: number }>;
    return {
      sources: Number(row.sources),
      gaps_open: Number(row.gaps_open),
      missing: Number(row.missing),
      duplicates: Number(row.duplicates),
      silent: Number(row.silent),
    };
  }
}
