import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ChangeImpact } from './core';

export interface StoredPolicy {
  policy: Record<string, unknown>;
  updatedAt: Date;
  updatedBy: string;
}

export interface PendingChange {
  id: string;
  tenantId: string;
  policy: Record<string, unknown>;
  dryRun: ChangeImpact;
  createdAt: Date;
  createdBy: string;
  effectiveAt: Date;
  status: 'pending' | 'applied' | 'cancelled' | 'superseded';
}

export interface LegalHoldRow {
  id: string;
  tenantId: string;
  category: string | null;
  from: Date;
  to: Date;
  reason: string;
  caseId: string | null;
  createdAt: Date;
  createdBy: string;
  releasedAt: Date | null;
  releasedBy: string | null;
}

type Row = Record<string, unknown>;
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string));
/** TypeORM answers an UPDATE … RETURNING with [rows, count] on pg; the rows alone elsewhere. */
const returned = (res: unknown): Row[] => (Array.isArray(res) && Array.isArray(res[0]) ? (res[0] as Row[]) : (res as Row[]));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

/** A dry run as stored; rows written before the API's snake_case key say `deleteArchives`. */
function dryRunOf(v: unknown): ChangeImpact {
  const { deleteArchives, ...rest } = json<ChangeImpact & { deleteArchives?: ChangeImpact['delete_archives'] }>(v);
  return deleteArchives && !rest.delete_archives ? { ...rest, delete_archives: deleteArchives } : rest;
}

function pendingOf(r: Row): PendingChange {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    policy: json(r.policy),
    dryRun: dryRunOf(r.dry_run),
    createdAt: date(r.created_at),
    createdBy: r.created_by as string,
    effectiveAt: date(r.effective_at),
    status: r.status as PendingChange['status'],
  };
}

function holdOf(r: Row): LegalHoldRow {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    category: (r.category as string | null) ?? null,
    from: date(r.from_ts),
    to: date(r.to_ts),
    reason: r.reason as string,
    caseId: (r.case_id as string | null) ?? null,
    createdAt: date(r.created_at),
    createdBy: r.created_by as string,
    releasedAt: r.released_at ? date(r.released_at) : null,
    releasedBy: (r.released_by as string | null) ?? null,
  };
}

/** The retention tables (raw SQL like the other capabilities' stores: the schema is the migration's). */
export class RetentionRepository {
  constructor(private readonly ds: DataSource) {}

  async policy(tenantId: string): Promise<StoredPolicy | undefined> {
    const rows: Row[] = await this.ds.query('SELECT policy, updated_at, updated_by FROM retention_policies WHERE tenant_id = $1', [
      tenantId,
    ]);
    const r = rows[0];
    return r ? { policy: json(r.policy), updatedAt: date(r.updated_at), updatedBy: r.updated_by as string } : undefined;
  }

  async tenantsWithPolicy(): Promise<string[]> {
    const rows: Row[] = await this.ds.query('SELECT tenant_id FROM retention_policies ORDER BY tenant_id');
    return rows.map((r) => r.tenant_id as string);
  }

  async savePolicy(
    tenantId: string,
    policy: Record<string, unknown>,
    by: string,
    at: Date,
    q: Pick<DataSource, 'query'> = this.ds,
  ): Promise<void> {
    await q.query(
      `INSERT INTO retention_policies (tenant_id, policy, updated_at, updated_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id) DO UPDATE SET policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
      [tenantId, JSON.stringify(policy), at, by],
    );
  }

  /**
   * A policy set at once supersedes the tenant's pending changes, in the same transaction: a pending change
   * applied after it would silently replace the newer policy.
   */
  async applyPolicy(tenantId: string, policy: Record<string, unknown>, by: string, at: Date): Promise<void> {
    await this.ds.transaction(async (m) => {
      await this.supersedePending(m, tenantId, by, at);
      await this.savePolicy(tenantId, policy, by, at, m);
    });
  }

  private async supersedePending(q: Pick<DataSource, 'query'>, tenantId: string, by: string, at: Date): Promise<void> {
    await q.query(
      `UPDATE retention_pending_changes SET status = 'superseded', closed_at = $2, closed_by = $3 WHERE tenant_id = $1 AND status = 'pending'`,
      [tenantId, at, by],
    );
  }

  /** A new pending change supersedes the tenant's earlier pending ones: one change waits at a time. */
  async addPending(change: Omit<PendingChange, 'id' | 'status'>): Promise<PendingChange> {
    const id = randomUUID();
    await this.ds.transaction(async (m) => {
      await this.supersedePending(m, change.tenantId, change.createdBy, change.createdAt);
      await m.query(
        `INSERT INTO retention_pending_changes (id, tenant_id, policy, dry_run, created_at, created_by, effective_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
        [
          id,
          change.tenantId,
          JSON.stringify(change.policy),
          JSON.stringify(change.dryRun),
          change.createdAt,
          change.createdBy,
          change.effectiveAt,
        ],
      );
    });
    return { ...change, id, status: 'pending' };
  }

  async pending(tenantId: string): Promise<PendingChange[]> {
    const rows: Row[] = await this.ds.query(
      `SELECT * FROM retention_pending_changes WHERE tenant_id = $1 AND status = 'pending' ORDER BY created_at`,
      [tenantId],
    );
    return rows.map(pendingOf);
  }

  async duePending(now: Date): Promise<PendingChange[]> {
    const rows: Row[] = await this.ds.query(
      `SELECT * FROM retention_pending_changes WHERE status = 'pending' AND effective_at <= $1 ORDER BY effective_at`,
      [now],
    );
    return rows.map(pendingOf);
  }

  /** Closes a pending change; false when it was not pending (already applied, cancelled, or unknown). */
  async closePending(tenantId: string, id: string, status: 'applied' | 'cancelled', by: string, at: Date): Promise<boolean> {
    const rows = returned(
      await this.ds.query(
        `UPDATE retention_pending_changes SET status = $3, closed_at = $5, closed_by = $4
       WHERE tenant_id = $1 AND id = $2 AND status = 'pending' RETURNING id`,
        [tenantId, id, status, by, at],
      ),
    );
    return rows.length > 0;
  }

  async addHold(hold: Omit<LegalHoldRow, 'id' | 'releasedAt' | 'releasedBy'>): Promise<LegalHoldRow> {
    const id = randomUUID();
    await this.ds.query(
      `INSERT INTO legal_holds (id, tenant_id, category, from_ts, to_ts, reason, case_id, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [id, hold.tenantId, hold.category, hold.from, hold.to, hold.reason, hold.caseId, hold.createdAt, hold.createdBy],
    );
    return { ...hold, id, releasedAt: null, releasedBy: null };
  }

  async holds(tenantId: string, includeReleased = false): Promise<LegalHoldRow[]> {
    const rows: Row[] = await this.ds.query(
      `SELECT * FROM legal_holds WHERE tenant_id = $1 ${includeReleased ? '' : 'AND released_at IS NULL'} ORDER BY created_at, id`,
      [tenantId],
    );
    return rows.map(holdOf);
  }

  async releaseHold(tenantId: string, id: string, by: string, at: Date): Promise<LegalHoldRow | undefined> {
    const rows = returned(
      await this.ds.query(
        `UPDATE legal_holds SET released_at = $3, released_by = $4 WHERE tenant_id = $1 AND id = $2 AND released_at IS NULL RETURNING *`,
        [tenantId, id, at, by],
      ),
    );
    return rows[0] ? holdOf(rows[0]) : undefined;
  }
}
