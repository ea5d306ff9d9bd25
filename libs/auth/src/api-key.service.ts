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

/** API keys: creation, verification (cached briefly so auth is not a database round trip per request), revocation. */
export class ApiKeyService {
  private readonly repo: Repository<ApiKeyEntity>;
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  private keyCount: number | undefined;

  constructor(
    ds: DataSource,
    private readonly cacheMs = 30_000,
  ) {
    this.repo = ds.getRepository(ApiKeyEntity);
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
    const entity = this.repo.create({
      id: uuidv7(),
      name,
      prefix,
      secretHash: hash(key),
      scopes,
      tenantId,
      createdAt: new Date(),
      revokedAt: null,
    });
    await this.repo.insert(entity);
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
    const existing = await this.repo.findOne({ where: { prefix } });
    if (existing) return;
    await this.create('bootstrap-admin', ['admin'], tenantId, key);
  }

  async verify(key: string): Promise<Principal | null> {
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.principal;
    const m = KEY_RE.exec(key);
    const prefix = m ? m[1] : hash(key).slice(0, 12);
    const row = await this.repo.findOne({ where: { prefix, revokedAt: IsNull() } });
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
    if (this.keyCount === undefined) this.keyCount = await this.repo.count({ where: { revokedAt: IsNull() } });
    return this.keyCount > 0;
  }

  async list(tenantId: string): Promise<Array<Omit<CreatedApiKey, 'key'> & { revoked_at: string | null }>> {
    const rows = await this.repo.find({ where: { tenantId }, order: { createdAt: 'ASC' } });
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
    const res = await this.repo.update({ id, tenantId, revokedAt: IsNull() }, { revokedAt: new Date() });
    this.cache.clear();
    this.keyCount = undefined;
    return (res.affected ?? 0) > 0;
  }
}
