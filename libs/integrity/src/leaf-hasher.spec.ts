import { BusRecord, decodeRecord } from '@app/event-bus';
import { extendTree, Frontier, leafHashOf, rootHash } from './core';
import { hasherSession, hashRecords } from './leaf-hasher';

const options = { trust: 'none' as const, defaultTenant: 'default' };

let offset = 0;
function record(body: unknown): BusRecord {
  const value = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    topic: 'audit.events.v1',
    partition: 0,
    offset: String(offset++),
    timestampMs: Date.parse('2026-12-01T00:00:00Z'),
    key: null,
    value,
    headers: {},
  };
}

const event = (n: number, tenant = 'acme') => ({
  id: `0195f3a2-1c2d-7000-8000-${String(n).padStart(12, '0')}`,
  tenant_id: tenant,
  event_type: 'user_login',
  description: `login ${n}`,
  timestamp: '2026-12-01T00:00:00.000000Z',
});

/** The root of a tree from its frontier alone (every node of it is a perfect subtree on the right edge). */
function rootOf(size: number, frontier: Frontier): Buffer {
  return rootHash((level, index) => {
    const h = frontier.get(`${level}/${index}`);
    if (!h) throw new Error(`node ${level}/${index} is not on the frontier`);
    return h;
  }, size);
}

describe('the integrity leaf hasher', () => {
  it('should group by tenant in log order, keep a repeated id once, refuse what is not an event, and hash as the tree does', () => {
    const out = hashRecords([record(event(1)), record('not json'), record(event(2, 'other')), record(event(1)), record(event(3))], options);
    expect(out.refused).toHaveLength(1);
    expect(out.tenants.map((t) => [t.tenantId, t.leaves.map((l) => l.eventId.slice(-1))])).toEqual([
      ['acme', ['1', '3']],
      ['other', ['2']],
    ]);
    const [first] = out.tenants[0].leaves;
    const decoded = decodeRecord(record(event(1)), options);
    if (!decoded.ok) throw new Error('the sample event is refused');
    expect(first.hash.equals(leafHashOf(decoded.event))).toBe(true);
    expect(out.tenants.every((t) => t.grown === undefined)).toBe(true);
  });

  it('should grow a seeded tenant batch after batch exactly as one append of all the leaves, and nothing for a tenant it was told to forget', () => {
    const session = hasherSession();
    const a = session({
      records: [1, 2, 3, 4, 5].map((n) => record(event(n))),
      options,
      seeds: [{ tenantId: 'acme', frontier: { size: 0, nodes: new Map() } }],
    });
    const b = session({ records: [6, 7, 8, 9, 10, 11, 12].map((n) => record(event(n))), options, seeds: [] });
    const hashes = [...a.tenants[0].leaves, ...b.tenants[0].leaves].map((l) => l.hash);
    const whole = extendTree('acme', 0, new Map(), hashes);
    expect(b.tenants[0].grown?.start).toBe(5);
    expect([...b.tenants[0].grown!.frontier]).toEqual([...whole.frontier]);
    expect(rootOf(12, b.tenants[0].grown!.frontier).equals(rootOf(12, whole.frontier))).toBe(true);
    // Stored nodes (level ≥ 4) of the two batches together are the whole append's.
    expect([...a.tenants[0].grown!.nodeIndex, ...b.tenants[0].grown!.nodeIndex]).toEqual(whole.nodeIndex);
    const c = session({ records: [record(event(13))], options, seeds: [{ tenantId: 'acme', frontier: null }] });
    expect(c.tenants[0].grown).toBeUndefined();
  });
});
