import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The integrity tree per tenant: its size (the row each append locks), every leaf (event id, leaf hash, the
 * log position it was consumed at, its timestamp) and the perfect nodes of level ≥ 1 (immutable once
 * complete, about one per leaf), so every proof is a few lookups. Checkpoints are the signed notes; keys the
 * generated signing key, encrypted.
 */
export class CreateIntegrityTree1764979200007 implements MigrationInterface {
  name = 'CreateIntegrityTree1764979200007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS integrity_trees (
      tenant_id text PRIMARY KEY,
      size bigint NOT NULL DEFAULT 0
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS integrity_leaves (
      tenant_id text NOT NULL,
      leaf_index bigint NOT NULL,
      event_id text NOT NULL,
      leaf_hash bytea NOT NULL,
      log_partition integer NOT NULL,
      log_offset text NOT NULL,
      event_time_us bigint NOT NULL,
      PRIMARY KEY (tenant_id, leaf_index)
    )`);
    await q.query('CREATE UNIQUE INDEX IF NOT EXISTS integrity_leaves_event ON integrity_leaves (tenant_id, event_id)');
    await q.query(`CREATE TABLE IF NOT EXISTS integrity_nodes (
      tenant_id text NOT NULL,
      level smallint NOT NULL,
      node_index bigint NOT NULL,
      hash bytea NOT NULL,
      PRIMARY KEY (tenant_id, level, node_index)
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS integrity_checkpoints (
      tenant_id text NOT NULL,
      tree_size bigint NOT NULL,
      root_hash bytea NOT NULL,
      note text NOT NULL,
      reason text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, tree_size)
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS integrity_keys (
      name text PRIMARY KEY,
      encrypted_pkcs8 text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['integrity_keys', 'integrity_checkpoints', 'integrity_nodes', 'integrity_leaves', 'integrity_trees']) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}

export const INTEGRITY_MIGRATIONS = [CreateIntegrityTree1764979200007];
