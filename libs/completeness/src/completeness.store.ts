import { DataSource, EntityManager } from 'typeorm';
import { missingCount, SourceState } from './core/tracker';

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

  async totals(): Promise<{ sources: number; gaps_open: number; missing: number; duplicates: number; silent: number }> {
    const all = await this.list(undefined, 100_000);
    return {
      sources: all.length,
      gaps_open: all.reduce((n, s) => n + s.state.gaps.length, 0),
      missing: all.reduce((n, s) => n + missingCount(s.state), 0),
      duplicates: all.reduce((n, s) => n + s.state.duplicates, 0),
      silent: all.filter((s) => s.state.silentSinceUs !== null).length,
    };
  }
}
