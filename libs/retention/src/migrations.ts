import { MigrationInterface, QueryRunner } from 'typeorm';

/** Policies, their pending (delayed) changes and legal holds: the retention capability's configuration. */
export class CreateRetention1764892800010 implements MigrationInterface {
  name = 'CreateRetention1764892800010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS retention_policies (
      tenant_id text PRIMARY KEY,
      policy jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      updated_by text NOT NULL
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS retention_pending_changes (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      policy jsonb NOT NULL,
      dry_run jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      created_by text NOT NULL,
      effective_at timestamptz NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'applied', 'cancelled', 'superseded')),
      closed_at timestamptz,
      closed_by text
    )`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS retention_pending_changes_due ON retention_pending_changes (effective_at) WHERE status = 'pending'`,
    );
    await q.query(`CREATE TABLE IF NOT EXISTS legal_holds (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      category text,
      from_ts timestamptz NOT NULL,
      to_ts timestamptz NOT NULL,
      reason text NOT NULL,
      case_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      created_by text NOT NULL,
      released_at timestamptz,
      released_by text,
      CHECK (from_ts <= to_ts)
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS legal_holds_tenant ON legal_holds (tenant_id) WHERE released_at IS NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE legal_holds');
    await q.query('DROP TABLE retention_pending_changes');
    await q.query('DROP TABLE retention_policies');
  }
}

/** One row per archive object: its manifest (what the object holds and how to check it). */
export class CreateRetentionArchives1764892800011 implements MigrationInterface {
  name = 'CreateRetentionArchives1764892800011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS retention_archives (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      category text NOT NULL,
      day date NOT NULL,
      object_key text NOT NULL,
      event_count integer NOT NULL,
      first_id text,
      last_id text,
      first_ts text,
      last_ts text,
      plaintext_sha256 text NOT NULL,
      object_sha256 text NOT NULL,
      object_size bigint NOT NULL,
      compression text NOT NULL,
      recipients jsonb NOT NULL,
      policy jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      deleted_at timestamptz,
      restored_until timestamptz,
      UNIQUE (tenant_id, category, day)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_archives');
  }
}
/** Background jobs (runs and restores): state, phase and progress, and the lease of the worker that holds one. */
export class CreateRetentionJobs1764892800012 implements MigrationInterface {
  name = 'CreateRetentionJobs1764892800012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS retention_jobs (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('run', 'restore')),
      state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
      phase text NOT NULL,
      done bigint NOT NULL DEFAULT 0,
      expected bigint NOT NULL DEFAULT 0,
      params jsonb NOT NULL,
      result jsonb,
      error text,
      attempts integer NOT NULL DEFAULT 0,
      owner text,
      lease_until timestamptz,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL,
      started_at timestamptz,
      finished_at timestamptz
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS retention_jobs_open ON retention_jobs (created_at) WHERE state IN ('queued', 'running')`);
    await q.query('CREATE INDEX IF NOT EXISTS retention_jobs_tenant ON retention_jobs (tenant_id, created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE retention_jobs');
  }
}

/** The integrity capability's view of each archive (ArchiveManifest.integrity). */
export class AddArchiveIntegrity1764892800013 implements MigrationInterface {
  name = 'AddArchiveIntegrity1764892800013';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE retention_archives ADD COLUMN IF NOT EXISTS integrity jsonb');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE retention_archives DROP COLUMN integrity');
  }
}

export const RETENTION_MIGRATIONS = [
  CreateRetention1764892800010,
  CreateRetentionArchives1764892800011,
  CreateRetentionJobs1764892800012,
  AddArchiveIntegrity1764892800013,
];
