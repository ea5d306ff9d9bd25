import { Column, Entity, PrimaryColumn } from 'typeorm';

export const SCOPES = ['events:write', 'events:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  name!: string;

  /** The public part of the key (`hpa_<prefix>_...`), used to find the row without scanning hashes. */
  @Column('text', { unique: true })
  prefix!: string;

  /** SHA-256 of the whole key. Keys carry 256 random bits, so a fast hash is enough; the key itself is never stored. */
  @Column('text', { name: 'secret_hash' })
  secretHash!: string;

  @Column('text', { array: true })
  scopes!: Scope[];

  @Column('text', { name: 'tenant_id' })
  tenantId!: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt!: Date | null;
}
