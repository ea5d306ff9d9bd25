import { DataSource, EntityManager, In, IsNull, Not } from 'typeorm';
import { ApiKeyEntity, Scope } from './api-key.entity';

/** The rows ApiKeyService reads and writes: its one outside system, faked in its unit spec. */
export interface ApiKeyStore {
  findByPrefix(prefix: string): Promise<ApiKeyEntity | null>;
  insert(row: ApiKeyEntity): Promise<void>;
  countActive(): Promise<number>;
  listByTenant(tenantId: string): Promise<ApiKeyEntity[]>;
  /** Revokes the active key `id` of `tenantId`; false when there is none. */
  revoke(tenantId: string, id: string, at: Date): Promise<boolean>;
  /** Marks an active key as the bootstrap key with these scopes. */
  markBootstrap(id: string, scopes: Scope[]): Promise<void>;
  /** Active bootstrap keys other than `exceptId`, revoked at `at`; returns them. */
  revokeOtherBootstrapKeys(exceptId: string, at: Date): Promise<ApiKeyEntity[]>;
  /** Runs `fn` alone among the start-ups sharing this store (replicas start together). */
  exclusively<T>(fn: (store: ApiKeyStore) => Promise<T>): Promise<T>;
}

export class TypeOrmApiKeyStore implements ApiKeyStore {
  constructor(private readonly m: EntityManager) {}

  static of(ds: DataSource): TypeOrmApiKeyStore {
    return new TypeOrmApiKeyStore(ds.manager);
  }

  private get repo() {
    return this.m.getRepository(ApiKeyEntity);
  }

  findByPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOne({ where: { prefix } });
  }

  async insert(row: ApiKeyEntity): Promise<void> {
    await this.repo.insert(row);
  }

  countActive(): Promise<number> {
    return this.repo.count({ where: { revokedAt: IsNull() } });
  }

  listByTenant(tenantId: string): Promise<ApiKeyEntity[]> {
    return this.repo.find({ where: { tenantId }, order: { createdAt: 'ASC' } });
  }

  async revoke(tenantId: string, id: string, at: Date): Promise<boolean> {
    const res = await this.repo.update({ id, tenantId, revokedAt: IsNull() }, { revokedAt: at });
    return (res.affected ?? 0) > 0;
  }

  async markBootstrap(id: string, scopes: Scope[]): Promise<void> {
    await this.repo.update({ id }, { bootstrap: true, scopes });
  }

  async revokeOtherBootstrapKeys(exceptId: string, at: Date): Promise<ApiKeyEntity[]> {
    const previous = await this.repo.find({ where: { bootstrap: true, revokedAt: IsNull(), id: Not(exceptId) } });
    if (previous.length > 0) await this.repo.update({ id: In(previous.map((p) => p.id)) }, { revokedAt: at });
    return previous;
  }

  exclusively<T>(fn: (store: ApiKeyStore) => Promise<T>): Promise<T> {
    return this.m.transaction(async (tx) => {
      // Blocks the other start-ups' writes (not reads) until this one commits: one creates the key, the rest find it.
      await tx.query('LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE');
      return fn(new TypeOrmApiKeyStore(tx));
    });
  }
}
