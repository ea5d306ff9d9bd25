import { Column, Entity, MigrationInterface, PrimaryColumn, QueryRunner } from 'typeorm';
import type { IntegrationStatus } from './integration';

/** One SIEM destination of a tenant. Its secrets (the TLS client key) are sealed in `settings` (SecretBox, AUDIT_SECRETS_KEY). */
@Entity({ name: 'siem_integrations' })
export class SiemIntegrationEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  @Column('text')
  status!: IntegrationStatus;

  /** Everything a client sets (IntegrationSettings), as validated by parseIntegrationSettings. */
  @Column('jsonb')
  settings!: Record<string, unknown>;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt!: Date;
}

export class CreateSiemIntegrations1764460800101 implements MigrationInterface {
  name = 'CreateSiemIntegrations1764460800101';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS siem_integrations (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      status text NOT NULL CHECK (status IN ('active', 'paused')),
      settings jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS siem_integrations_tenant ON siem_integrations (tenant_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE siem_integrations');
  }
}

export const SIEM_MIGRATIONS = [CreateSiemIntegrations1764460800101];
