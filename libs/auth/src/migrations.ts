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

export const AUTH_MIGRATIONS = [CreateApiKeys1764460800001];
