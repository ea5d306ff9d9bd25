import { EvaluatedRule } from './core/evaluate';
import { StoredRule } from './alerting.store';

/** How long the enabled rules read from Postgres are used before they are read again (other replicas' changes). */
export const RULE_CACHE_TTL_MS = 1_000;

export interface CachedRule {
  rule: StoredRule;
  evaluated: EvaluatedRule;
}

/**
 * The enabled rules, grouped by tenant, with their evaluated form built once: the rule engine used to read every
 * enabled rule from Postgres and parse its filter on each consumed batch. A change made through this process
 * (create, update, enable/disable, delete) invalidates at once; a change made through another replica is seen
 * within `ttlMs`. A load that started before an invalidation is not kept, so a change is never hidden by a read
 * that raced it.
 */
export class RuleCache {
  private byTenant: Map<string, CachedRule[]> | undefined;
  private loadedAt = 0;
  private generation = 0;
  private loading: Promise<Map<string, CachedRule[]>> | undefined;

  constructor(
    private readonly load: () => Promise<StoredRule[]>,
    private readonly evaluated: (rule: StoredRule) => EvaluatedRule,
    private readonly ttlMs = RULE_CACHE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The enabled rules of the given tenants (in rule id order, as the store answers them). */
  async rulesFor(tenants: Iterable<string>): Promise<CachedRule[]> {
    const byTenant = await this.current();
    const out: CachedRule[] = [];
    for (const t of tenants) {
      const rules = byTenant.get(t);
      if (rules) out.push(...rules);
    }
    return out;
  }

  invalidate(): void {
    this.generation++;
    this.byTenant = undefined;
    this.loading = undefined;
  }

  private current(): Promise<Map<string, CachedRule[]>> {
    if (this.byTenant && this.now() - this.loadedAt < this.ttlMs) return Promise.resolve(this.byTenant);
    if (this.loading) return this.loading;
    const generation = this.generation;
    const started = this.now();
    const loading = this.load().then((rules) => {
      const byTenant = new Map<string, CachedRule[]>();
      for (const rule of rules) {
        const list = byTenant.get(rule.tenantId) ?? [];
        list.push({ rule, evaluated: this.evaluated(rule) });
        byTenant.set(rule.tenantId, list);
      }
      if (generation === this.generation) {
        this.byTenant = byTenant;
        this.loadedAt = started;
      }
      return byTenant;
    });
    const settled = loading.finally(() => {
      if (this.loading === settled) this.loading = undefined;
    });
    this.loading = settled;
    return settled;
  }
}
