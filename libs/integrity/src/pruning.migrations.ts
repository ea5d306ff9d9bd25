import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pruning (docs/architecture.md "Integrity", "Pruning"): the events a retention policy removed from the query
 * store, by id (with the category-day and why), and per tenant the minimum index, below which every leaf's
 * event was removed by policy. The tree itself (leaves and nodes) is not touched.
 */
export class CreateIntegrityPruning1765411200013 implements MigrationInterface {
  name = 'CreateIntegrityPruning1765411200013';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS integrity_pruned (
      tenant_id text NOT NULL,
      event_id text NOT NULL,
      category text NOT NULL,
      day text NOT NULL,
      reason text NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, event_id)
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS integrity_min_index (
      tenant_id text PRIMARY KEY,
      min_index bigint NOT NULL DEFAULT 0,
      raised_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE integrity_min_index');
    await q.query('DROP TABLE integrity_pruned');
  }
}

export const PRUNING_MIGRATIONS = [CreateIntegrityPruning1765411200013];
