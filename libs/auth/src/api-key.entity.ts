import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * events:write and events:read for producers and readers; admin for key management within the key's tenant;
 * ops:read for /metrics, readiness details and nothing else (a scraper's key); operator for everything, in
 * any tenant (X-Audit-Tenant, keys for other tenants). admin implies every scope but operator.
 */
export const SCOPES = ['events:write', 'events:read', 'admin', 'ops:read', 'operator'] as const;
export type Scope = (typeof SCOPES)[number];

/** Tenant ids, as the event contract spells them. */
export const TENANT_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

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

  /** Created from AUDIT_BOOTSTRAP_API_KEY: revoked when a start-up configures a different one. */
  @Column('boolean', { default: false })
  bootstrap!: boolean;
}
