import { generateKeyPairSync } from 'node:crypto';
import pino from 'pino';
import { AuditEvent, parseTimestampMicros, StoredAuditEvent } from '@app/contracts';
import type { IngestPort } from '@app/ingest';
import type { QueryPort, RangeCursor } from '@app/query';
import { leafHashOf, memoryTree, rootHash } from './core';
import { IntegrityService } from './integrity.service';
import type { PruningStore } from './pruning.store';
import type { StoredCheckpoint, StoredLeaf, TreeStore } from './tree.store';

const TENANT = 'tenant-a';
const us = (ts: string) => parseTimestampMicros(ts)!;

function event(i: number): StoredAuditEvent {
  const ts = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString().replace('Z', '000Z');
  const e: AuditEvent = {
    schema_version: 1,
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    tenant_id: TENANT,
    event_type: 'user_login',
    category: 'security_events',
    severity: 'info',
    description: `event ${i}`,
    metadata: { n: i },
    timestamp: ts,
    received_at: ts,
    ip_address: '',
    user_agent: '',
    session_id: '',
    source: 'test',
    idempotency_key: '',
  };
  // Two partitions, offsets in log order on each.
  return { ...e, position: { partition: i % 2, offset: String(Math.floor(i / 2)) } };
}

/** The tree and the store as plain arrays: the two streamed passes over them must find what a whole read would. */
class World {
  leaves: Array<StoredLeaf & { timeUs: number }> = [];
  store: StoredAuditEvent[] = [];
  checkpoint: StoredCheckpoint | null = null;
  minIndex = 0;
  removedByPolicy = new Set<string>();
  emitted: unknown[] = [];
  ranges = 0;
  byId = 0;
  leafPages = 0;
  /** Runs at each page read of either pass: the other consumers, going on meanwhile. */
  hook?: () => void;

  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      const e = event(i);
      this.store.push(e);
      this.leaves.push({
        index: i,
        eventId: e.id,
        leafHash: leafHashOf(e),
        partition: e.position!.partition,
        offset: e.position!.offset,
        timeUs: us(e.timestamp),
      });
    }
  }

  sign(size = this.leaves.length): void {
    const hashes = this.leaves.slice(0, size).map((l) => l.leafHash);
    this.checkpoint = { tenantId: TENANT, size, rootHash: rootHash(memoryTree(hashes), size), note: '', reason: 'test', createdAt: '' };
  }

  service(page: number): IntegrityService {
    const inRange = (us: number, from?: number, to?: number) => us >= (from ?? 0) && us < (to ?? Number.MAX_SAFE_INTEGER);
    const tree = {
      size: async () => (this.leaves.length === 0 ? 0 : this.leaves[this.leaves.length - 1].index + 1),
      checkpoint: async () => this.checkpoint,
      reached: async (_t: string, from: number | undefined, to: number | undefined, below: number) => {
        const out = new Map<number, bigint>();
        for (const l of this.leaves) {
          if (l.index >= below || !inRange(l.timeUs, from, to)) continue;
          const o = BigInt(l.offset);
          if ((out.get(l.partition) ?? -1n) < o) out.set(l.partition, o);
        }
        return out;
      },
      leafIndexSpan: async (_t: string, from: number | undefined, to: number | undefined, below: number) => {
        const inside = this.leaves.filter((l) => l.index < below && inRange(l.timeUs, from, to)).map((l) => l.index);
        return inside.length === 0 ? null : { first: Math.min(...inside), last: Math.max(...inside) };
      },
      leavesByIds: async (_t: string, ids: string[]) =>
        new Map(this.leaves.filter((l) => ids.includes(l.eventId)).map((l) => [l.eventId, l])),
      leafPage: async (_t: string, p: { fromUs?: number; toUs?: number; afterIndex: number; throughIndex: number }) => {
        this.hook?.();
        this.leafPages++;
        return this.leaves.filter((l) => l.index > p.afterIndex && l.index <= p.throughIndex && inRange(l.timeUs, p.fromUs, p.toUs));
      },
    } as unknown as TreeStore;
    const pruning = {
      minIndex: async () => this.minIndex,
      removedAmong: async (_t: string, ids: string[]) => new Set(ids.filter((id) => this.removedByPolicy.has(id))),
    } as unknown as PruningStore;
    const query = {
      range: async (_t: string, f: { fromUs?: number; toUs?: number }, after: RangeCursor | null, limit: number) => {
        this.ranges++;
        this.hook?.();
        const key = (e: { timestamp: string; id: string }) => `${e.timestamp}|${e.id}`;
        return this.store
          .filter((e) => inRange(us(e.timestamp), f.fromUs, f.toUs) && (after === null || key(e) > key(after)))
          .sort((a, b) => (key(a) < key(b) ? -1 : 1))
          .slice(0, limit);
      },
      findById: async (_t: string, id: string) => {
        this.byId++;
        return this.store.find((e) => e.id === id) ?? null;
      },
    } as unknown as QueryPort;
    const ingest = { ingest: async (req: { events: unknown[] }) => void this.emitted.push(...req.events) } as unknown as IngestPort;
    return new IntegrityService(tree, {
      origin: 'test.example/audit',
      key: generateKeyPairSync('ed25519').privateKey,
      logger: pino({ level: 'silent' }),
      ingest: () => ingest,
      query: () => query,
      pruning,
      verifyPage: page,
    });
  }
}

const ids = (fs: Array<{ id: string }>) => fs.map((f) => f.id).sort();

describe('IntegrityService.verify (streamed in pages)', () => {
  it('should pass an untouched log and check the stored leaves against the checkpoint root', async () => {
    // given 20 events in the store and in the tree, signed at 20
    const w = new World(20);
    w.sign();
    // when verified in pages of 3
    const r = await w.service(3).verify(TENANT, {});
    // then every event and leaf was read, a page at a time, and the root matches
    expect(r).toMatchObject({ ok: true, events_checked: 20, leaves_checked: 20, pending: 0, pruned: 0, checkpoint_root_matches: true });
    expect(w.ranges).toBe(7);
    expect(w.emitted).toEqual([]);
  });

  it('should name an edited, a deleted, an added and two swapped events, whatever the page size', async () => {
    const tampered = () => {
      const w = new World(20);
      w.sign();
      w.store[4] = { ...w.store[4], description: 'edited' };
      w.store.splice(7, 1); // event 7 deleted
      const added = event(30);
      w.store.push({ ...added, position: { partition: 0, offset: '3' } }); // at a position the tree has passed
      // events 10 and 12 (both partition 0) swapped positions
      const [a, b] = [w.store.findIndex((e) => e.id === event(10).id), w.store.findIndex((e) => e.id === event(12).id)];
      [w.store[a].position, w.store[b].position] = [w.store[b].position, w.store[a].position];
      return w;
    };
    for (const page of [1, 3, 7, 1000]) {
      const w = tampered();
      const r = await w.service(page).verify(TENANT, {});
      expect(ids(r.modified)).toEqual([event(4).id]);
      expect(ids(r.removed)).toEqual([event(7).id]);
      expect(ids(r.inserted)).toEqual([event(30).id]);
      expect(ids(r.reordered)).toEqual([event(10).id, event(12).id]);
      expect(r).toMatchObject({ ok: false, events_checked: 20, leaves_checked: 20, pending: 0, checkpoint_root_matches: true });
      expect(w.emitted).toHaveLength(1);
    }
  });

  it('given a time range, should walk only the leaf indices it spans, late leaves included', async () => {
    // given 40 events a second apart, and a late leaf (index 40) with the time of event 21 whose event is gone
    const w = new World(40);
    const late = event(41);
    w.leaves.push({
      index: 40,
      eventId: late.id,
      leafHash: leafHashOf(late),
      partition: 0,
      offset: '10',
      timeUs: us(event(21).timestamp),
    });
    // when events 20-24 are verified in pages of 3
    const r = await w.service(3).verify(TENANT, { fromUs: us(event(20).timestamp), toUs: us(event(25).timestamp) });
    // then the walk covered indices 20-40 (7 pages), not the tree's 41 (14), and the late leaf is named
    expect(w.leafPages).toBe(7);
    expect(r).toMatchObject({ ok: false, events_checked: 5, leaves_checked: 6, pending: 0 });
    expect(ids(r.removed)).toEqual([late.id]);
    // and a range with no leaf walks nothing
    const empty = new World(10);
    const none = await empty.service(3).verify(TENANT, { fromUs: us(event(20).timestamp) });
    expect(none).toMatchObject({ ok: true, leaves_checked: 0 });
    expect(empty.leafPages).toBe(0);
  });

  it('should count as pending what one side has not consumed yet, on either side', async () => {
    // given a tree 4 events behind the store, and a store 3 events behind the tree
    const ahead = new World(20);
    ahead.leaves.splice(16);
    const behind = new World(20);
    behind.store.splice(17);
    // then neither is a finding
    expect(await ahead.service(3).verify(TENANT, {})).toMatchObject({ ok: true, pending: 4, events_checked: 20, leaves_checked: 16 });
    expect(await behind.service(3).verify(TENANT, {})).toMatchObject({ ok: true, pending: 3, events_checked: 17, leaves_checked: 20 });
  });

  it('should expect absent what a policy removed, below the minimum index or by id, and name what none did', async () => {
    const w = new World(20);
    w.minIndex = 4;
    w.removedByPolicy.add(event(9).id);
    w.store = w.store.filter((e, i) => i >= 4 && i !== 9 && i !== 11);
    const r = await w.service(3).verify(TENANT, {});
    expect(r).toMatchObject({ pruned: 5, min_index: 4, ok: false });
    expect(ids(r.removed)).toEqual([event(11).id]);
  });

  it('should refuse a checkpoint root the stored leaves no longer give: a leaf hash changed, or a leaf row gone', async () => {
    const edited = new World(12);
    edited.sign();
    edited.leaves[5] = { ...edited.leaves[5], leafHash: Buffer.alloc(32, 7) };
    expect((await edited.service(4).verify(TENANT, {})).checkpoint_root_matches).toBe(false);
    const gone = new World(12);
    gone.sign();
    gone.leaves.splice(5, 1);
    gone.store.splice(5, 1);
    const r = await gone.service(4).verify(TENANT, {});
    expect(r).toMatchObject({ checkpoint_root_matches: false, ok: false, leaves_checked: 11 });
  });

  it('should verify a time range only, with no root check', async () => {
    const w = new World(20);
    w.sign();
    w.store.splice(15, 1); // outside the range
    const r = await w.service(3).verify(TENANT, { fromUs: us(event(2).timestamp), toUs: us(event(10).timestamp) });
    expect(r).toMatchObject({ ok: true, events_checked: 8, leaves_checked: 8, checkpoint_root_matches: null });
  });

  it('should check the root against a checkpoint older than the tree, and answer null with none', async () => {
    const older = new World(20);
    older.sign(15);
    expect(await older.service(4).verify(TENANT, {})).toMatchObject({ ok: true, checkpoint_root_matches: true, leaves_checked: 20 });
    older.leaves[16] = { ...older.leaves[16], leafHash: Buffer.alloc(32, 1) }; // past the checkpoint: not in its root
    expect((await older.service(4).verify(TENANT, {})).checkpoint_root_matches).toBe(true);
    older.leaves[14] = { ...older.leaves[14], leafHash: Buffer.alloc(32, 1) };
    expect((await older.service(4).verify(TENANT, {})).checkpoint_root_matches).toBe(false);
    expect((await new World(5).service(4).verify(TENANT, {})).checkpoint_root_matches).toBeNull();
  });

  it('should count a removed event restored at a new position as restored, not reordered', async () => {
    const w = new World(10);
    w.minIndex = 3;
    w.store[1] = { ...w.store[1], position: { partition: 1, offset: '40' } };
    w.store = w.store.filter((_, i) => i !== 0 && i !== 2);
    const r = await w.service(3).verify(TENANT, {});
    expect(r).toMatchObject({ ok: true, restored: 1, pruned: 2, reordered: [] });
  });

  it('should count a redelivered copy the store has not merged away once', async () => {
    const w = new World(10);
    w.store.push({ ...w.store[4] });
    w.store[7] = { ...w.store[7], description: 'edited' };
    w.store.push({ ...w.store[7] });
    const r = await w.service(3).verify(TENANT, {});
    expect(r).toMatchObject({ events_checked: 10, leaves_checked: 10 });
    expect(ids(r.modified)).toEqual([event(7).id]);
  });

  it('should check, not name as removed, an event the store projects behind the first pass after it passed', async () => {
    // given event 3 (an old timestamp, on partition 1) not yet in the store when the verification begins, and
    // projected once the first pass is beyond its timestamp and has seen partition 1 further on
    const w = new World(20);
    w.sign();
    const late = w.store.splice(3, 1)[0];
    let pages = 0;
    w.hook = () => {
      if (++pages === 3) w.store.push(late);
    };
    // when verified in pages of 3
    const r = await w.service(3).verify(TENANT, {});
    // then it is looked up by id and checked, not reported removed
    expect(r).toMatchObject({ ok: true, removed: [], events_checked: 20, leaves_checked: 20, pending: 0 });
    expect(w.byId).toBe(1);
    // and a late event that was edited is still named
    const edited = new World(20);
    const copy = { ...edited.store.splice(3, 1)[0], description: 'edited' };
    let n = 0;
    edited.hook = () => {
      if (++n === 3) edited.store.push(copy);
    };
    const r2 = await edited.service(3).verify(TENANT, {});
    expect(ids(r2.modified)).toEqual([event(3).id]);
    expect(r2.removed).toEqual([]);
  });

  it('should name an event whose timestamp was moved into the range as modified', async () => {
    const w = new World(20);
    w.store[15] = { ...w.store[15], timestamp: w.store[5].timestamp };
    const r = await w.service(3).verify(TENANT, { fromUs: us(event(2).timestamp), toUs: us(event(10).timestamp) });
    expect(ids(r.modified)).toEqual([event(15).id]);
  });

  it('should not count what the tree appends, or a retention run removes, while it verifies', async () => {
    // given a tree that grows by 5 leaves once the verification has begun
    const growing = new World(20);
    const later = new World(25).leaves.slice(20);
    growing.store.push(...new World(25).store.slice(20));
    growing.leaves.splice(20);
    growing.hook = () => void (growing.leaves.length === 20 && growing.leaves.push(...later));
    expect(await growing.service(3).verify(TENANT, {})).toMatchObject({ ok: true, leaves_checked: 20, events_checked: 25, pending: 0 });
    // given a retention run that, after the first page, removes events 0-5 past a new minimum index of 6
    const pruning = new World(20);
    let pages = 0;
    pruning.hook = () => {
      if (++pages !== 2) return;
      pruning.minIndex = 6;
      pruning.store = pruning.store.filter((e) => e.id > event(5).id);
    };
    const r = await pruning.service(3).verify(TENANT, {});
    expect(r).toMatchObject({ ok: true, removed: [], pruned: 3, min_index: 6 });
  });
});
