import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row per (tenant, source): the tracker's state as JSON (bounded: the open gaps and the newest sequence ids
 * are capped in core/tracker.ts), with the columns GET /audit/sources and the silence check filter on.
 */
export class CreateCompletenessSources1764979200011 implements MigrationInterface {
  name = 'CreateCompletenessSources1764979200011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS completeness_sources (
      tenant_id text NOT NULL,
      source text NOT NULL,
      state jsonb NOT NULL,
      last_sequence bigint NOT NULL,
      gaps_open integer NOT NULL,
      last_seen_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, source)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE completeness_sources');
  }
}

export const COMPLETENESS_MIGRATIONS = [CreateCompletenessSources1764979200011];
