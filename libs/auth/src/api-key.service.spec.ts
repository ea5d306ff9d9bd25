import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyService, hasScope, MAX_KEY_CHARS, Principal } from './api-key.service';
import { InMemoryApiKeyStore } from './testing/in-memory-api-key.store';

const OLD_KEY = 'old-bootstrap-key-0123456789abcdef';
const NEW_KEY = 'new-bootstrap-key-0123456789abcdef';

describe(ApiKeyService.name, () => {
  let store: InMemoryApiKeyStore;
  let sut: ApiKeyService;

  beforeEach(() => {
    store = new InMemoryApiKeyStore();
    sut = new ApiKeyService(store);
  });

  describe('bootstrap key rotation', () => {
    it('should revoke the previous bootstrap key when a start-up configures a different one', async () => {
      // given a deployment that started with OLD_KEY
      const first = await sut.ensureBootstrapKey(OLD_KEY, 'default');
      expect(first).toMatchObject({ created: true, revoked: [] });
      expect(await sut.verify(OLD_KEY)).not.toBeNull();
      // when it restarts with NEW_KEY
      const restarted = new ApiKeyService(store);
      const second = await restarted.ensureBootstrapKey(NEW_KEY, 'default');
      // then the old key is revoked and the new one works
      expect(second).toMatchObject({ created: true, revoked: [{ id: first.keyId, tenantId: 'default' }], configuredKeyRevoked: false });
      expect(await restarted.verify(OLD_KEY)).toBeNull();
      expect(await restarted.verify(NEW_KEY)).toMatchObject({ name: 'bootstrap-admin', scopes: ['admin', 'operator'] });
      expect(restarted.takeBootstrapOutcome()).toEqual(second);
      expect(restarted.takeBootstrapOutcome()).toBeUndefined();
    });

    it('should change nothing on a restart with the same key, and never revoke other keys', async () => {
      const first = await sut.ensureBootstrapKey(OLD_KEY, 'default');
      const created = await sut.create('producer', ['events:write'], 'default');
      const again = await new ApiKeyService(store).ensureBootstrapKey(OLD_KEY, 'default');
      expect(again).toEqual({ keyId: first.keyId, tenantId: 'default', created: false, revoked: [], configuredKeyRevoked: false });
      expect(await sut.verify(created.key)).not.toBeNull();
      expect(await sut.verify(OLD_KEY)).not.toBeNull();
    });

    it('should keep a configured key that was revoked revoked, and then revoke nothing', async () => {
      const old = await sut.ensureBootstrapKey(OLD_KEY, 'default');
      await sut.ensureBootstrapKey(NEW_KEY, 'default');
      // a pod still configured with the old key restarts during the rollout
      const stale = await new ApiKeyService(store).ensureBootstrapKey(OLD_KEY, 'default');
      expect(stale).toEqual({ keyId: old.keyId, tenantId: 'default', created: false, revoked: [], configuredKeyRevoked: true });
      expect(await sut.verify(OLD_KEY)).toBeNull();
      expect(await sut.verify(NEW_KEY)).not.toBeNull();
    });

    it('should mark an active key made before the bootstrap flag and give it the operator scope', async () => {
      // given the bootstrap key of an older version, found by its prefix but not marked
      await sut.ensureBootstrapKey(OLD_KEY, 'default');
      Object.assign(store.rows[0], { bootstrap: false, scopes: ['admin'] } satisfies Partial<ApiKeyEntity>);
      // when the same key is configured again
      await new ApiKeyService(store).ensureBootstrapKey(OLD_KEY, 'default');
      // then it is marked, so the next rotation revokes it
      expect(store.rows[0]).toMatchObject({ bootstrap: true, scopes: ['admin', 'operator'] });
      const rotated = await new ApiKeyService(store).ensureBootstrapKey(NEW_KEY, 'default');
      expect(rotated.revoked).toEqual([{ id: store.rows[0].id, tenantId: 'default' }]);
    });

    it('should refuse a configured key that only shares the prefix of another key, and change nothing', async () => {
      const existing = await sut.create('producer', ['events:write'], 'default');
      const impostor = existing.key.slice(0, 17) + 'x'.repeat(43);
      await expect(sut.ensureBootstrapKey(impostor, 'default')).rejects.toThrow(/shares its prefix/);
      expect(store.rows[0]).toMatchObject({ bootstrap: false, scopes: ['events:write'], revokedAt: null });
    });
  });

  describe('verification cache', () => {
    it('should stay within its bound under a flood of distinct bad keys, and keep the good keys cached', async () => {
      sut = new ApiKeyService(store, 30_000, 50);
      const good = await sut.create('reader', ['events:read'], 'default');
      expect(await sut.verify(good.key)).not.toBeNull();
      for (let i = 0; i < 500; i++) expect(await sut.verify(`hpa_${'a'.repeat(12)}_${String(i).padStart(43, 'x')}`)).toBeNull();
      expect(sut.cacheSizes()).toEqual({ valid: 1, invalid: 50 });
      expect(sut.cachedPrincipal(good.key)).toMatchObject({ name: 'reader' });
    });

    it('should answer a repeated good key from the cache until the cache time passes', async () => {
      let now = 1_000_000;
      const realNow = Date.now;
      Date.now = () => now;
      try {
        sut = new ApiKeyService(store, 30_000);
        const good = await sut.create('writer', ['events:write'], 'default');
        const before = store.lookups;
        expect(await sut.verify(good.key)).toMatchObject({ name: 'writer' });
        expect(await sut.verify(good.key)).toMatchObject({ name: 'writer' });
        expect(sut.cachedPrincipal(good.key)).toMatchObject({ name: 'writer' });
        expect(store.lookups - before).toBe(1);
        now += 30_001;
        expect(sut.cachedPrincipal(good.key)).toBeNull();
        expect(await sut.verify(good.key)).toMatchObject({ name: 'writer' });
        expect(store.lookups - before).toBe(2);
      } finally {
        Date.now = realNow;
      }
    });

    it('should answer a repeated bad key from the cache', async () => {
      const bad = `hpa_${'b'.repeat(12)}_${'c'.repeat(43)}`;
      await sut.verify(bad);
      await sut.verify(bad);
      expect(store.lookups).toBe(1);
    });

    it('should refuse a key longer than any real one without looking it up or caching it', async () => {
      await expect(sut.verify('k'.repeat(MAX_KEY_CHARS + 1))).resolves.toBeNull();
      expect(store.lookups).toBe(0);
      expect(sut.cacheSizes()).toEqual({ valid: 0, invalid: 0 });
    });

    it('should forget a revoked key at once in this process', async () => {
      const k = await sut.create('reader', ['events:read'], 'default');
      expect(await sut.verify(k.key)).not.toBeNull();
      expect(await sut.revoke('default', k.id)).toBe(true);
      expect(await sut.verify(k.key)).toBeNull();
    });
  });
});

describe(hasScope.name, () => {
  const p = (...scopes: Principal['scopes']): Principal => ({ keyId: 'k', name: 'n', tenantId: 't', scopes });

  it('should let admin imply every scope but operator, and operator imply every scope', () => {
    expect(hasScope(p('admin'), 'ops:read')).toBe(true);
    expect(hasScope(p('admin'), 'events:write')).toBe(true);
    expect(hasScope(p('admin'), 'operator')).toBe(false);
    expect(hasScope(p('operator'), 'admin')).toBe(true);
    expect(hasScope(p('operator'), 'operator')).toBe(true);
    expect(hasScope(p('ops:read'), 'events:read')).toBe(false);
    expect(hasScope(p('events:read'), 'ops:read')).toBe(false);
  });
});
