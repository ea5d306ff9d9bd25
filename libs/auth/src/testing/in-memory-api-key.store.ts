import { ApiKeyEntity, Scope } from '../api-key.entity';
import { ApiKeyStore } from '../api-key.store';

/** A typed fake of the key store for unit specs; `lookups` counts reads by prefix (the database round trips). */
export class InMemoryApiKeyStore implements ApiKeyStore {
  readonly rows: ApiKeyEntity[] = [];
  lookups = 0;

  async findByPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    this.lookups++;
    const row = this.rows.find((r) => r.prefix === prefix);
    return row ? { ...row } : null;
  }

  async insert(row: ApiKeyEntity): Promise<void> {
    if (this.rows.some((r) => r.prefix === row.prefix || r.id === row.id)) throw new Error('duplicate key');
    this.rows.push({ ...row });
  }

  async countActive(): Promise<number> {
    return this.rows.filter((r) => r.revokedAt === null).length;
  }

  async listByTenant(tenantId: string): Promise<ApiKeyEntity[]> {
    return this.rows.filter((r) => r.tenantId === tenantId).map((r) => ({ ...r }));
  }

  async revoke(tenantId: string, id: string, at: Date): Promise<boolean> {
    const row = this.rows.find((r) => r.id === id && r.tenantId === tenantId && r.revokedAt === null);
    if (row) row.revokedAt = at;
    return row !== undefined;
  }

  async markBootstrap(id: string, scopes: Scope[]): Promise<void> {
    const row = this.rows.find((r) => r.id === id);
    if (row) Object.assign(row, { bootstrap: true, scopes });
  }

  async revokeOtherBootstrapKeys(exceptId: string, at: Date): Promise<ApiKeyEntity[]> {
    const previous = this.rows.filter((r) => r.bootstrap && r.revokedAt === null && r.id !== exceptId);
    for (const r of previous) r.revokedAt = at;
    return previous.map((r) => ({ ...r }));
  }

  exclusively<T>(fn: (store: ApiKeyStore) => Promise<T>): Promise<T> {
    return fn(this);
  }
}
