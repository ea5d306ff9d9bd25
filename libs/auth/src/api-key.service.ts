import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, IsNull, Repository } from 'typeorm';
import { uuidv7 } from '@app/contracts';
import { ApiKeyEntity, Scope, SCOPES } from './api-key.entity';

export interface Principal {
  /** 'anonymous' when a loopback-only deployment runs without keys. */
  keyId: string;
  name: string;
  tenantId: string;
  scopes: Scope[];
}

export interface CreatedApiKey {
  id: string;
  name: string;
  scopes: Scope[];
  tenant_id: string;
  created_at: string;
  /** Shown once; only its hash is stored. */
  key: string;
}

const KEY_RE = /^hpa_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const hash = (key: string): string => createHash('sha256').update(key).digest('hex');

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}

/** What the service needs of the api_keys table: narrow, so a unit spec can hold the rows in memory. */
export interface ApiKeyStore {
  insert(entity: ApiKeyEntity): Promise<void>;
  /** The key with this prefix, revoked or not (`activeOnly`: only if not revoked). */
  findByPrefix(prefix: string, activeOnly: boolean): Promise<ApiKeyEntity | null>;
  countActive(): Promise<number>;
  listByTenant(tenantId: string): Promise<ApiKeyEntity[]>;
  /** Marks the tenant's key revoked; false when there is no such unrevoked key. */
  revoke(tenantId: string, id: string, at: Date): Promise<boolean>;
}

/** The api_keys table through TypeORM. */
export class TypeOrmApiKeyStore implements ApiKeyStore {
  private readonly repo: Repository<ApiKeyEntity>;

  constructor(ds: DataSource) {
    this.repo = ds.getRepository(ApiKeyEntity);
  }

  async insert(entity: ApiKeyEntity): Promise<void> {
    await this.repo.insert(entity);
  }

  findByPrefix(prefix: string, activeOnly: boolean): Promise<ApiKeyEntity | null> {
    return this.repo.findOne({ where: activeOnly ? { prefix, revokedAt: IsNull() } : { prefix } });
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
}

/** API keys: creation, verification (cached briefly so auth is not a database round trip per request), revocation. */
export class ApiKeyService {
  private readonly store: ApiKeyStore;
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  private keyCount: number | undefined;

  constructor(
    source: DataSource | ApiKeyStore,
    private readonly cacheMs = 30_000,
  ) {
    this.store = source instanceof DataSource ? new TypeOrmApiKeyStore(source) : source;
  }

  static generate(): { key: string; prefix: string } {
    const prefix = randomBytes(9)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '0')
      .slice(0, 12);
    return { key: `hpa_${prefix}_${randomBytes(32).toString('base64url')}`, prefix };
  }

  static isWellFormed(key: string): boolean {
    return KEY_RE.test(key);
  }

  async create(name: string, scopes: Scope[], tenantId: string, presetKey?: string): Promise<CreatedApiKey> {
    for (const s of scopes) if (!SCOPES.includes(s)) throw new Error(`unknown scope ${s}`);
    let key: string;
    let prefix: string;
    if (presetKey) {
      const m = KEY_RE.exec(presetKey);
      prefix = m ? m[1] : hash(presetKey).slice(0, 12);
      key = presetKey;
    } else {
      ({ key, prefix } = ApiKeyService.generate());
    }
    const entity = Object.assign(new ApiKeyEntity(), {
      id: uuidv7(),
      name,
      prefix,
      secretHash: hash(key),
      scopes,
      tenantId,
      createdAt: new Date(),
      revokedAt: null,
    });
    await this.store.insert(entity);
    this.keyCount = undefined;
    return { id: entity.id, name, scopes, tenant_id: tenantId, created_at: entity.createdAt.toISOString(), key };
  }

  /**
   * Makes sure the configured bootstrap key exists as an admin key. It may have any form (at least 24
   * characters), so operators can generate it with their usual tools.
   */
  async ensureBootstrapKey(key: string, tenantId: string): Promise<void> {
    const m = KEY_RE.exec(key);
    const prefix = m ? m[1] : hash(key).slice(0, 12);
    const existing = await this.store.findByPrefix(prefix, false);
    if (existing) return;
    await this.create('bootstrap-admin', ['admin'], tenantId, key);
  }

  async verify(key: string): Promise<Principal | null> {
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.principal;
    const m = KEY_RE.exec(key);
    const prefix = m ? m[1] : hash(key).slice(0, 12);
    const row = await this.store.findByPrefix(prefix, true);
    let principal: Principal | null = null;
    if (row) {
      const a = Buffer.from(row.secretHash, 'hex');
      const b = Buffer.from(hash(key), 'hex');
      if (a.length === b.length && timingSafeEqual(a, b)) {
        principal = { keyId: row.id, name: row.name, tenantId: row.tenantId, scopes: row.scopes };
      }
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { principal, until: now + this.cacheMs });
    return principal;
  }

  async hasAnyKey(): Promise<boolean> {
    if (this.keyCount === undefined) this.keyCount = await this.store.countActive();
    return this.keyCount > 0;
  }

  async list(tenantId: string): Promise<Array<Omit<CreatedApiKey, 'key'> & { revoked_at: string | null }>> {
    const rows = await this.store.listByTenant(tenantId);
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      scopes: r.scopes,
      tenant_id: r.tenantId,
      created_at: r.createdAt.toISOString(),
      revoked_at: r.revokedAt ? r.revokedAt.toISOString() : null,
    }));
  }

  async revoke(tenantId: string, id: string): Promise<boolean> {
    const revoked = await this.store.revoke(tenantId, id, new Date());
    this.cache.clear();
    this.keyCount = undefined;
    return revoked;
  }
}
