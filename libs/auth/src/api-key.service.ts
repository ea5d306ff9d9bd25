import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource } from 'typeorm';
import { uuidv7 } from '@app/contracts';
import { ApiKeyEntity, Scope, SCOPES } from './api-key.entity';
import { ApiKeyStore, TypeOrmApiKeyStore } from './api-key.store';
import { LruCache } from './lru-cache';

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

/** What a start-up did with AUDIT_BOOTSTRAP_API_KEY: the API reports it as admin_action events once it can. */
export interface BootstrapOutcome {
  keyId: string;
  tenantId: string;
  created: boolean;
  /** Earlier bootstrap keys this start-up revoked because the configured key is a different one. */
  revoked: Array<{ id: string; tenantId: string }>;
  /** The configured key had been revoked (e.g. through the API): it stays revoked and revokes nothing. */
  configuredKeyRevoked: boolean;
}

const KEY_RE = /^hpa_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const hash = (key: string): string => createHash('sha256').update(key).digest('hex');
const prefixOf = (key: string): string => KEY_RE.exec(key)?.[1] ?? hash(key).slice(0, 12);

/** Longest key worth looking up: generated keys have 61 characters and bootstrap keys at most 256 (loadConfig). */
export const MAX_KEY_CHARS = 256;
/** Verified keys remembered at once, valid and invalid alike (about 300 bytes each: 3 MB per cache). */
export const KEY_CACHE_ENTRIES = 10_000;

const BOOTSTRAP_SCOPES: Scope[] = ['admin', 'operator'];

export function hasScope(principal: Principal, scope: Scope): boolean {
  if (principal.scopes.includes('operator')) return true;
  if (scope === 'operator') return false;
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}

interface Cached {
  principal: Principal | null;
  until: number;
}

/**
 * API keys: creation, verification (cached briefly so auth is not a database round trip per request), revocation.
 * Two LRUs of KEY_CACHE_ENTRIES each, valid and invalid keys apart so a flood of made-up keys cannot evict the
 * keys in real use. The valid cache is keyed by the presented key itself, so a request with a key verified
 * moments ago costs one map lookup and no SHA-256 (the digest was 1 % of the single-event ingest's CPU); it
 * only ever holds keys that matched a stored hash, which every request carrying them brings into memory
 * anyway. The invalid cache is keyed by digest: made-up keys are stored as 64 characters whatever their length.
 */
export class ApiKeyService {
  private readonly store: ApiKeyStore;
  private readonly valid: LruCache<string, Cached>;
  private readonly invalid: LruCache<string, Cached>;
  private keyCount: number | undefined;
  private bootstrapOutcome: BootstrapOutcome | undefined;

  constructor(
    store: DataSource | ApiKeyStore,
    private readonly cacheMs = 30_000,
    cacheEntries = KEY_CACHE_ENTRIES,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.store = store instanceof DataSource ? TypeOrmApiKeyStore.of(store) : store;
    this.valid = new LruCache(cacheEntries);
    this.invalid = new LruCache(cacheEntries);
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

  async create(name: string, scopes: Scope[], tenantId: string, presetKey?: string, bootstrap = false): Promise<CreatedApiKey> {
    for (const s of scopes) if (!SCOPES.includes(s)) throw new Error(`unknown scope ${s}`);
    let key: string;
    let prefix: string;
    if (presetKey) {
      prefix = prefixOf(presetKey);
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
      createdAt: this.now(),
      revokedAt: null,
      bootstrap,
    });
    await this.store.insert(entity);
    this.invalid.delete(hash(key));
    this.keyCount = undefined;
    return { id: entity.id, name, scopes, tenant_id: tenantId, created_at: entity.createdAt.toISOString(), key };
  }

  /**
   * Makes sure the configured bootstrap key exists, marked as such, with the admin and operator scopes (it is
   * the deployment's root credential: whoever sets it owns the deployment). It may have any form (24 to 256
   * characters), so operators can generate it with their usual tools. Every other active bootstrap key is
   * revoked: rotating the variable and restarting retires the old key. A configured key that was revoked
   * stays revoked and retires nothing, so a pod still running the old configuration during a rollout cannot
   * revoke the new key.
   */
  async ensureBootstrapKey(key: string, tenantId: string): Promise<BootstrapOutcome> {
    const outcome = await this.store.exclusively(async (store): Promise<BootstrapOutcome> => {
      let row = await store.findByPrefix(prefixOf(key));
      // Prefixes of hpa_ keys are public: a configured key that only shares one must not take over that row.
      if (row && row.secretHash !== hash(key)) {
        throw new Error('AUDIT_BOOTSTRAP_API_KEY shares its prefix with another API key: generate a new one (openssl rand -hex 24)');
      }
      let created = false;
      if (!row) {
        row = Object.assign(new ApiKeyEntity(), {
          id: uuidv7(),
          name: 'bootstrap-admin',
          prefix: prefixOf(key),
          secretHash: hash(key),
          scopes: BOOTSTRAP_SCOPES,
          tenantId,
          createdAt: this.now(),
          revokedAt: null,
          bootstrap: true,
        });
        await store.insert(row);
        created = true;
      } else if (row.revokedAt === null && (!row.bootstrap || !row.scopes.includes('operator'))) {
        await store.markBootstrap(row.id, [...new Set<Scope>([...row.scopes, ...BOOTSTRAP_SCOPES])]);
      }
      if (row.revokedAt !== null) return { keyId: row.id, tenantId: row.tenantId, created, revoked: [], configuredKeyRevoked: true };
      const revoked = await store.revokeOtherBootstrapKeys(row.id, this.now());
      return {
        keyId: row.id,
        tenantId: row.tenantId,
        created,
        revoked: revoked.map((r) => ({ id: r.id, tenantId: r.tenantId })),
        configuredKeyRevoked: false,
      };
    });
    this.valid.clear();
    this.invalid.clear();
    this.keyCount = undefined;
    this.bootstrapOutcome = outcome;
    return outcome;
  }

  /** The last bootstrap outcome, once: the API turns it into audit events when it starts. */
  takeBootstrapOutcome(): BootstrapOutcome | undefined {
    const o = this.bootstrapOutcome;
    this.bootstrapOutcome = undefined;
    return o;
  }

  /** The principal of a key verified as valid within the cache time, without touching the database. */
  cachedPrincipal(key: string, now = Date.now()): Principal | null {
    if (key.length === 0 || key.length > MAX_KEY_CHARS) return null;
    const hit = this.valid.get(key);
    return hit && hit.until > now ? hit.principal : null;
  }

  async verify(key: string): Promise<Principal | null> {
    if (key.length === 0 || key.length > MAX_KEY_CHARS) return null;
    const now = Date.now();
    const good = this.valid.get(key);
    if (good && good.until > now) return good.principal;
    const digest = hash(key);
    const bad = this.invalid.get(digest);
    if (bad && bad.until > now) return null;
    const row = await this.store.findByPrefix(prefixOf(key));
    let principal: Principal | null = null;
    if (row && row.revokedAt === null) {
      const a = Buffer.from(row.secretHash, 'hex');
      const b = Buffer.from(digest, 'hex');
      if (a.length === b.length && timingSafeEqual(a, b)) {
        principal = { keyId: row.id, name: row.name, tenantId: row.tenantId, scopes: row.scopes };
      }
    }
    const entry = { principal, until: now + this.cacheMs };
    if (principal) {
      this.valid.set(key, entry);
      this.invalid.delete(digest);
    } else {
      this.invalid.set(digest, entry);
      this.valid.delete(key);
    }
    return principal;
  }

  /** Entries in the verification caches (valid, invalid): for tests and the docs' memory arithmetic. */
  cacheSizes(): { valid: number; invalid: number } {
    return { valid: this.valid.size, invalid: this.invalid.size };
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
    const revoked = await this.store.revoke(tenantId, id, this.now());
    this.valid.clear();
    this.invalid.clear();
    this.keyCount = undefined;
    return revoked;
  }
}
