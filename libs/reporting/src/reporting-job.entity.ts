import { Column, Entity, Index, MigrationInterface, PrimaryColumn, QueryRunner } from 'typeorm';

export type JobKind = 'export' | 'report';
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'expired';

/** One export or report: its request, progress and, once done, its file in the object store and manifest. */
@Entity({ name: 'reporting_jobs' })
export class ReportingJobEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Index()
  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  @Column('text')
  kind!: JobKind;

  @Column('text')
  state!: JobState;

  /** The request as given (the manifest's query) and its parsed form, so a restart can run it again. */
  @Column('jsonb')
  request!: Record<string, unknown>;

  @Column('text', { name: 'requested_by' })
  requestedBy!: string;

  @Column('bigint', { name: 'rows_expected', nullable: true })
  rowsExpected!: string | null;

  @Column('bigint', { name: 'rows_done' })
  rowsDone!: string;

  @Column('text', { name: 'file_key', nullable: true })
  fileKey!: string | null;

  @Column('text', { name: 'file_name', nullable: true })
  fileName!: string | null;

  @Column('text', { name: 'content_type', nullable: true })
  contentType!: string | null;

  @Column('bigint', { name: 'file_size', nullable: true })
  fileSize!: string | null;

  @Column('text', { name: 'file_sha256', nullable: true })
  fileSha256!: string | null;

  @Column('jsonb', { nullable: true })
  manifest!: Record<string, unknown> | null;

  @Column('jsonb')
  warnings!: string[];

  @Column('text', { nullable: true })
  error!: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt!: Date | null;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt!: Date | null;

  /** The replica running it (host, pid and a random part) while state is 'running'. */
  @Column('text', { name: 'claimed_by', nullable: true })
  claimedBy!: string | null;

  /** Until when the claim holds; the runner extends it while it works, another replica takes the job after it. */
  @Column('timestamptz', { name: 'lease_until', nullable: true })
  leaseUntil!: Date | null;

  /** How many times a replica claimed it (more than one: a replica stopped or lost it mid-run). */
  @Column('int', { default: 0 })
  attempts!: number;
}

export class CreateReportingJobs1764979200001 implements MigrationInterface {
  name = 'CreateReportingJobs1764979200001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS reporting_jobs (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('export', 'report')),
      state text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'expired')),
      request jsonb NOT NULL,
      requested_by text NOT NULL,
      rows_expected bigint,
      rows_done bigint NOT NULL DEFAULT 0,
      file_key text,
      file_name text,
      content_type text,
      file_size bigint,
      file_sha256 text,
      manifest jsonb,
      warnings jsonb NOT NULL DEFAULT '[]',
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      expires_at timestamptz
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS reporting_jobs_tenant ON reporting_jobs (tenant_id, created_at)');
    // Finding what to resume after a restart and what to expire reads only the few unfinished or done rows.
    await q.query('CREATE INDEX IF NOT EXISTS reporting_jobs_state ON reporting_jobs (state, expires_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE reporting_jobs');
  }
}

/** Claims with a lease, so several replicas share the queue and a job runs in one of them at a time. */
export class ReportingJobClaims1765152000001 implements MigrationInterface {
  name = 'ReportingJobClaims1765152000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE reporting_jobs ADD COLUMN IF NOT EXISTS claimed_by text');
    await q.query('ALTER TABLE reporting_jobs ADD COLUMN IF NOT EXISTS lease_until timestamptz');
    await q.query('ALTER TABLE reporting_jobs ADD COLUMN IF NOT EXISTS attempts int NOT NULL DEFAULT 0');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE reporting_jobs DROP COLUMN claimed_by, DROP COLUMN lease_until, DROP COLUMN attempts');
  }
}

export const REPORTING_MIGRATIONS = [CreateReportingJobs1764979200001, ReportingJobClaims1765152000001];
