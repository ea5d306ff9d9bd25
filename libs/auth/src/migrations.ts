import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateApiKeys1764460800001 implements MigrationInterface {
  name = 'CreateApiKeys1764460800001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS api_keys (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      prefix text NOT NULL UNIQUE,
      secret_hash text NOT NULL,
      scopes text[] NOT NULL,
      tenant_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE api_keys');
  }
}

/**
 * Marks the keys made from AUDIT_BOOTSTRAP_API_KEY, so a start-up with a different one can revoke them.
 * Keys made before this column were named 'bootstrap-admin' with exactly the admin scope by the start-up
 * itself: mark those, or the bootstrap key in use at the upgrade would never be revoked by a rotation.
 */
export class MarkBootstrapKeys1764633600101 implements MigrationInterface {
  name = 'MarkBootstrapKeys1764633600101';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS bootstrap boolean NOT NULL DEFAULT false');
    await q.query(`UPDATE api_keys SET bootstrap = true WHERE name = 'bootstrap-admin' AND scopes = ARRAY['admin']::text[]`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE api_keys DROP COLUMN bootstrap');
  }
}

export const AUTH_MIGRATIONS = [CreateApiKeys1764460800001, MarkBootstrapKeys1764633600101];
