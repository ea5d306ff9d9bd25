import { EvaluatedRule } from './core/evaluate';
import { StoredRule } from './alerting.store';
import { RuleCache } from './rule-cache';

const rule = (id: string, tenantId: string): StoredRule => ({ id, tenantId }) as unknown as StoredRule;
const evaluated = (r: StoredRule): EvaluatedRule => ({ id: r.id, tenantId: r.tenantId }) as unknown as EvaluatedRule;

describe('RuleCache', () => {
  let rows: StoredRule[];
  let loads: number;
  let now: number;
  let sut: RuleCache;

  beforeEach(() => {
    rows = [rule('r1', 'a'), rule('r2', 'b'), rule('r3', 'a')];
    loads = 0;
    now = 1_000;
    sut = new RuleCache(
      async () => {
        loads++;
        return [...rows];
      },
      evaluated,
      1_000,
      () => now,
    );
  });

  const ids = async (tenants: string[]): Promise<string[]> => (await sut.rulesFor(tenants)).map((r) => r.rule.id);

  it('should answer the rules of the asked tenants only, with their evaluated form', async () => {
    expect(await ids(['a'])).toEqual(['r1', 'r3']);
    expect(await ids(['b', 'c'])).toEqual(['r2']);
    expect((await sut.rulesFor(['b']))[0].evaluated).toMatchObject({ id: 'r2', tenantId: 'b' });
  });

  it('should read the store once within the time to live, and again after it', async () => {
    await ids(['a']);
    await ids(['b']);
    now += 999;
    await ids(['a']);
    expect(loads).toBe(1);
    rows.push(rule('r4', 'b'));
    now += 1;
    expect(await ids(['b'])).toEqual(['r2', 'r4']);
    expect(loads).toBe(2);
  });

  it('should see a change at once after an invalidation', async () => {
    expect(await ids(['a'])).toEqual(['r1', 'r3']);
    rows = rows.filter((r) => r.id !== 'r1');
    sut.invalidate();
    expect(await ids(['a'])).toEqual(['r3']);
    expect(loads).toBe(2);
  });

  it('should share one read between concurrent batches', async () => {
    const [x, y] = await Promise.all([ids(['a']), ids(['b'])]);
    expect([x, y]).toEqual([['r1', 'r3'], ['r2']]);
    expect(loads).toBe(1);
  });

  it('should not keep a read that an invalidation overtook', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = new RuleCache(
      async () => {
        loads++;
        const snapshot = [...rows];
        if (loads === 1) await gate;
        return snapshot;
      },
      evaluated,
      1_000,
      () => now,
    );
    const stale = slow.rulesFor(['a']);
    rows.push(rule('r5', 'a'));
    slow.invalidate();
    release();
    expect((await stale).map((r) => r.rule.id)).toEqual(['r1', 'r3']);
    expect((await slow.rulesFor(['a'])).map((r) => r.rule.id)).toEqual(['r1', 'r3', 'r5']);
    expect(loads).toBe(2);
  });

  it('should read again after a failed read', async () => {
    let fail = true;
    const flaky = new RuleCache(
      async () => {
        loads++;
        if (fail) throw new Error('store down');
        return rows;
      },
      evaluated,
      1_000,
      () => now,
    );
    await expect(flaky.rulesFor(['a'])).rejects.toThrow('store down');
    fail = false;
    expect((await flaky.rulesFor(['a'])).map((r) => r.rule.id)).toEqual(['r1', 'r3']);
  });
});
