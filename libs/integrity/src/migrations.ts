import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The integrity tree per tenant: its size (the row each append locks), every leaf (event id, leaf hash, the
 * log position it was consumed at, its timestamp) and the perfect nodes (immutable once complete; since
 * the next migration only those of level ≥ 4), so every proof is a few lookups. Checkpoints are the signed notes; keys the
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

/**
 * The store keeps only nodes of level ≥ STORED_NODE_LEVEL (4) and hashes the lower ones from the leaves below
 * (tree.store.ts); the lower nodes written before are never read again, and they are 7 of every 8 node
 * rows, so they go. The leaves they were computed from stay, so every proof still verifies.
 */
export class IntegrityUpperNodesOnly1765411200131 implements MigrationInterface {
  name = 'IntegrityUpperNodesOnly1765411200131';

  async up(q: QueryRunner): Promise<void> {
    await q.query('DELETE FROM integrity_nodes WHERE level < 4');
  }

  async down(q: QueryRunner): Promise<void> {
    // A build that reads the lower nodes needs them back: each level from the one below (RFC 6962 node hash).
    for (let level = 1; level < 4; level++) {
      const below =
        level === 1
          ? 'SELECT tenant_id, leaf_index AS i, leaf_hash AS hash FROM integrity_leaves'
          : `SELECT tenant_id, node_index AS i, hash FROM integrity_nodes WHERE level = ${level - 1}`;
      await q.query(
        `WITH below AS (${below})
         INSERT INTO integrity_nodes (tenant_id, level, node_index, hash)
         SELECT l.tenant_id, ${level}, l.i / 2, sha256('\\x01'::bytea || l.hash || r.hash)
         FROM below l JOIN below r ON r.tenant_id = l.tenant_id AND r.i = l.i + 1
         WHERE l.i % 2 = 0
         ON CONFLICT DO NOTHING`,
      );
    }
  }
}

/**
 * A BRIN index on the leaves' event time, so a verification of a time range walks the leaf indices that
 * range spans (TreeStore.leafIndexSpan) instead of the whole tree: leaves are appended in log order, so
 * their times rise with their place in the table, and a block range's minimum and maximum say where a
 * range is. A few pages per million leaves, and next to nothing per insert (a B-tree here would cost the
 * append path a third index). Postgres summarises new block ranges itself (`autosummarize`); the embedded
 * PGlite, which has no autovacuum, in its periodic maintenance round (ANALYZE, then
 * brin_summarize_new_values; pglite-thread.ts). Ranges not yet
 * summarised are read whole, so the index only ever narrows what is read.
 */
export class IntegrityLeafTimeIndex1765497600001 implements MigrationInterface {
  name = 'IntegrityLeafTimeIndex1765497600001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'CREATE INDEX IF NOT EXISTS integrity_leaves_time ON integrity_leaves USING brin (event_time_us) WITH (autosummarize = on)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS integrity_leaves_time');
  }
}

export const INTEGRITY_MIGRATIONS = [
  CreateIntegrityTree1764979200007,
  IntegrityUpperNodesOnly1765411200131,
  IntegrityLeafTimeIndex1765497600001,
];
