import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyService, ApiKeyStore } from './api-key.service';

class MemoryKeys implements ApiKeyStore {
  readonly rows: ApiKeyEntity[] = [];
  reads = 0;

  async insert(entity: ApiKeyEntity): Promise<void> {
    if (this.rows.some((r) => r.prefix === entity.prefix)) throw new Error('duplicate prefix');
    this.rows.push({ ...entity });
  }

  async findByPrefix(prefix: string, activeOnly: boolean): Promise<ApiKeyEntity | null> {
    this.reads++;
    return this.rows.find((r) => r.prefix === prefix && (!activeOnly || r.revokedAt === null)) ?? null;
  }

  async countActive(): Promise<number> {
    return this.rows.filter((r) => r.revokedAt === null).length;
  }

  async listByTenant(tenantId: string): Promise<ApiKeyEntity[]> {
    return this.rows.filter((r) => r.tenantId === tenantId);
  }

  async revoke(tenantId: string, id: string, at: Date): Promise<boolean> {
    const row = this.rows.find((r) => r.id === id && r.tenantId === tenantId && r.revokedAt === null);
    if (row) row.revokedAt = at;
    return row !== undefined;
  }
}

describe(ApiKeyService.name, () => {
  let store: MemoryKeys;
  let sut: ApiKeyService;

  beforeEach(() => {
    store = new MemoryKeys();
    sut = new ApiKeyService(store, 30_000);
  });

  it('should verify a created key to its principal and store only its hash', async () => {
    const created = await sut.create('ingest', ['events:write'], 't1');
    expect(ApiKeyService.isWellFormed(created.key)).toBe(true);
    expect(JSON.stringify(store.rows)).not.toContain(created.key.split('_')[2]);
    await expect(sut.verify(created.key)).resolves.toEqual({ keyId: created.id, name: 'ingest', tenantId: 't1', scopes: ['events:write'] });
  });

  it('should refuse a key whose secret differs from the stored one with the same prefix', async () => {
    const created = await sut.create('ingest', ['events:write'], 't1');
    // The secret may itself hold "_": keep the 17 characters of "hpa_<prefix>_" and replace the rest.
    const forged = `${created.key.slice(0, 17)}${'A'.repeat(43)}`;
    expect(ApiKeyService.isWellFormed(forged)).toBe(true);
    await expect(sut.verify(forged)).resolves.toBeNull();
    await expect(sut.verify('not-a-key')).resolves.toBeNull();
  });

  it('should cache verifications, and forget them when a key is revoked', async () => {
    const created = await sut.create('reader', ['events:read'], 't1');
    await sut.verify(created.key);
    await sut.verify(created.key);
    expect(store.reads).toBe(1);
    await expect(sut.revoke('t1', created.id)).resolves.toBe(true);
    await expect(sut.verify(created.key)).resolves.toBeNull();
    await expect(sut.revoke('t1', created.id)).resolves.toBe(false);
  });

  it("should not revoke another tenant's key", async () => {
    const created = await sut.create('reader', ['events:read'], 't1');
    await expect(sut.revoke('t2', created.id)).resolves.toBe(false);
    await expect(sut.verify(created.key)).resolves.not.toBeNull();
  });

  it('should create the bootstrap key once, as admin, whatever its form', async () => {
    const bootstrap = 'b'.repeat(48);
    await sut.ensureBootstrapKey(bootstrap, 'default');
    await sut.ensureBootstrapKey(bootstrap, 'default');
    expect(store.rows).toHaveLength(1);
    await expect(sut.verify(bootstrap)).resolves.toMatchObject({ name: 'bootstrap-admin', tenantId: 'default', scopes: ['admin'] });
  });

  it('should count only unrevoked keys, and list a tenant without secrets', async () => {
    await expect(sut.hasAnyKey()).resolves.toBe(false);
    const a = await sut.create('a', ['admin'], 't1');
    await sut.create('b', ['events:read'], 't2');
    await expect(sut.hasAnyKey()).resolves.toBe(true);
    const listed = await sut.list('t1');
    expect(listed).toEqual([{ id: a.id, name: 'a', scopes: ['admin'], tenant_id: 't1', created_at: a.created_at, revoked_at: null }]);
  });

  it('should refuse an unknown scope', async () => {
    // @ts-expect-error a scope outside SCOPES, as an untyped caller could send
    await expect(sut.create('x', ['events:delete'], 't1')).rejects.toThrow(/unknown scope/);
  });
});
