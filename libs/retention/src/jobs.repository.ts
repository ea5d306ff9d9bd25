import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';

export type JobKind = 'run' | 'restore';
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

/** A background job (a retention run or a restore) as stored: its progress survives the process. */
export interface RetentionJob {
  id: string;
  tenantId: string;
  kind: JobKind;
  state: JobState;
  /** What it is doing now: queued, planning, archiving, offloading, deleting, deleting_archives, restoring, waiting_for_storage, done. */
  phase: string;
  /** Events handled in the current phase, of `expected`. */
  done: number;
  expected: number;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  attempts: number;
  createdBy: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  leaseUntil: Date | null;
}

type Row = Record<string, unknown>;
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(v as string));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
/** TypeORM answers an UPDATE … RETURNING with [rows, count] on pg; the rows alone elsewhere. */
const returned = (res: unknown): Row[] => (Array.isArray(res) && Array.isArray(res[0]) ? (res[0] as Row[]) : (res as Row[]));

function jobOf(r: Row): RetentionJob {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    kind: r.kind as JobKind,
    state: r.state as JobState,
    phase: r.phase as string,
    done: Number(r.done),
    expected: Number(r.expected),
    params: json(r.params),
    result: r.result === null || r.result === undefined ? null : json(r.result),
    error: (r.error as string | null) ?? null,
    attempts: Number(r.attempts),
    createdBy: r.created_by as string,
    createdAt: date(r.created_at) as Date,
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
    leaseUntil: date(r.lease_until),
  };
}

/**
 * Jobs in Postgres. A worker claims one with a lease (`lease_until`, renewed while it works); a job whose
 * lease ran out (its process died) is claimed again and redone from its stored progress. Times are the
 * database's, so workers on several machines agree on when a lease ran out.
 */
export class JobRepository {
  constructor(private readonly ds: DataSource) {}

  async create(tenantId: string, kind: JobKind, params: Record<string, unknown>, createdBy: string): Promise<RetentionJob> {
    const rows: Row[] = await this.ds.query(
      `INSERT INTO retention_jobs (id, tenant_id, kind, state, phase, params, created_by, created_at)
       VALUES ($1, $2, $3, 'queued', 'queued', $4, $5, now()) RETURNING *`,
      [randomUUID(), tenantId, kind, JSON.stringify(params), createdBy],
    );
    return jobOf(rows[0]);
  }

  /** The tenant's queued or running job of this kind (a scheduled run is not queued twice). */
  async active(tenantId: string, kind: JobKind): Promise<RetentionJob | undefined> {
    const rows: Row[] = await this.ds.query(
      `SELECT * FROM retention_jobs WHERE tenant_id = $1 AND kind = $2 AND state IN ('queued', 'running') ORDER BY created_at LIMIT 1`,
      [tenantId, kind],
    );
    return rows[0] ? jobOf(rows[0]) : undefined;
  }

  /** Takes the oldest queued job, or a running one whose lease ran out, for `leaseMs`. */
  async claim(owner: string, leaseMs: number): Promise<RetentionJob | undefined> {
    const res: unknown = await this.ds.query(
      `UPDATE retention_jobs SET state = 'running', owner = $1, lease_until = now() + ($2::int * interval '1 millisecond'),
         attempts = attempts + 1, started_at = COALESCE(started_at, now())
       WHERE id = (SELECT id FROM retention_jobs WHERE state = 'queued' OR (state = 'running' AND lease_until < now())
                   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseMs],
    );
    const rows = returned(res);
    return rows[0] ? jobOf(rows[0]) : undefined;
  }

  /** Renews the lease and records progress; false when the job is no longer this owner's. */
  async progress(
    id: string,
    owner: string,
    leaseMs: number,
    p: { phase?: string; done?: number; expected?: number; error?: string | null },
  ): Promise<boolean> {
    const res: unknown = await this.ds.query(
      `UPDATE retention_jobs SET lease_until = now() + ($3::int * interval '1 millisecond'),
         phase = COALESCE($4, phase), done = COALESCE($5, done), expected = COALESCE($6, expected),
         error = CASE WHEN $7::boolean THEN $8 ELSE error END
       WHERE id = $1 AND owner = $2 AND state = 'running' RETURNING id`,
      [id, owner, leaseMs, p.phase ?? null, p.done ?? null, p.expected ?? null, p.error !== undefined, p.error ?? null],
    );
    return returned(res).length > 0;
  }

  async finish(id: string, owner: string, state: 'succeeded' | 'failed', result: Record<string, unknown> | null, error: string | null) {
    await this.ds.query(
      `UPDATE retention_jobs SET state = $3, phase = 'done', result = $4, error = $5, finished_at = now(), lease_until = NULL
       WHERE id = $1 AND owner = $2`,
      [id, owner, state, result === null ? null : JSON.stringify(result), error],
    );
  }

  /** Back to the queue (a graceful stop): the next worker redoes it from its stored progress. */
  async release(id: string, owner: string): Promise<void> {
    await this.ds.query(`UPDATE retention_jobs SET state = 'queued', owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2`, [
      id,
      owner,
    ]);
  }

  /** The tenant's job of this kind that finished (succeeded or failed) last. */
  async lastFinished(tenantId: string, kind: JobKind): Promise<RetentionJob | undefined> {
    const rows: Row[] = await this.ds.query(
      `SELECT * FROM retention_jobs WHERE tenant_id = $1 AND kind = $2 AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1`,
      [tenantId, kind],
    );
    return rows[0] ? jobOf(rows[0]) : undefined;
  }

  async find(tenantId: string, id: string): Promise<RetentionJob | undefined> {
    const rows: Row[] = await this.ds.query('SELECT * FROM retention_jobs WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0] ? jobOf(rows[0]) : undefined;
  }

  async list(tenantId: string, limit: number): Promise<RetentionJob[]> {
    const rows: Row[] = await this.ds.query('SELECT * FROM retention_jobs WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT $2', [
      tenantId,
      limit,
    ]);
    return rows.map(jobOf);
  }
}
