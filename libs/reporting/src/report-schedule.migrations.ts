import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scheduled reports: the schedule (its parsed definition, the alerting channel that delivers it, when it runs
 * next) and one row per run, keyed by (schedule, slot): the row is the claim, so however many replicas tick at
 * once a slot gets one report job.
 */
export class CreateReportSchedules1765324800002 implements MigrationInterface {
  name = 'CreateReportSchedules1765324800002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS report_schedules (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      name text NOT NULL,
      definition jsonb NOT NULL,
      channel_id uuid,
      paused boolean NOT NULL,
      next_run_at timestamptz NOT NULL,
      created_by text NOT NULL,
      created_by_key text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS report_schedules_due ON report_schedules (next_run_at) WHERE NOT paused');
    await q.query('CREATE INDEX IF NOT EXISTS report_schedules_tenant ON report_schedules (tenant_id, created_at)');
    await q.query(`CREATE TABLE IF NOT EXISTS report_schedule_runs (
      schedule_id uuid NOT NULL REFERENCES report_schedules (id) ON DELETE CASCADE,
      slot timestamptz NOT NULL,
      tenant_id text NOT NULL,
      job_id uuid,
      state text NOT NULL CHECK (state IN ('claimed', 'queued', 'notified', 'stored')),
      claimed_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      PRIMARY KEY (schedule_id, slot)
    )`);
    await q.query(
      "CREATE INDEX IF NOT EXISTS report_schedule_runs_open ON report_schedule_runs (state) WHERE state IN ('claimed', 'queued')",
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE report_schedule_runs');
    await q.query('DROP TABLE report_schedules');
  }
}
