import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { asBuffer, WorkerRpc } from '@app/common';
import { parseTimestampMicros } from '@app/contracts';
import { BusRecord, decodeRecord, OutgoingRecord, TrustPolicy } from '@app/event-bus';
import { extendTree, Frontier, GrownTree, leafHashOf } from './core';

/** One event as the tree appends it: which tenant's tree, its id, its leaf hash and where it sits on the log. */
export interface HashedLeaf {
  tenantId: string;
  eventId: string;
  hash: Buffer;
  partition: number;
  offset: string;
  /** The event's timestamp in µs since the epoch (0 if it has none the contract reads). */
  timeUs: number;
}

export interface HashedBatch {
  /** The events in log order, grouped by tenant; ids repeated within the batch kept once. */
  tenants: Array<{ tenantId: string; leaves: HashedLeaf[]; grown?: GrownTree }>;
  /** Records that are not events (what every consumer refuses); only the DLQ's owner writes them. */
  refused: OutgoingRecord[];
}

/** The committed frontier of a tenant's tree (null: forget the tenant), as the appender last saw it. */
export interface FrontierSeed {
  tenantId: string;
  frontier: { size: number; nodes: Frontier } | null;
}

export interface HashOptions {
  trust: TrustPolicy;
  defaultTenant: string;
}

/** Tenants whose frontier the hasher keeps (as the tree store's cache). */
const SPECULATED_TENANTS = 10_000;

/**
 * Decodes and validates the records as every event consumer does, hashes each event's leaf and, for a tenant
 * whose frontier `frontiers` holds, computes the nodes the leaves complete (speculation: the appender uses
 * them only if the tree is still at that size when it locks it, and otherwise computes them itself and seeds
 * the committed frontier back). `frontiers` is advanced as if every append will commit.
 */
export function hashRecords(
  records: BusRecord[],
  options: HashOptions,
  frontiers?: Map<string, { size: number; nodes: Frontier }>,
): HashedBatch {
  const leaves: HashedLeaf[] = [];
  const refused: OutgoingRecord[] = [];
  for (const record of records) {
    const r = decodeRecord({ ...record, value: asBuffer(record.value) }, options);
    if (!r.ok) {
      refused.push(r.deadLetter);
      continue;
    }
    leaves.push({
      tenantId: r.event.tenant_id,
      eventId: r.event.id,
      hash: leafHashOf(r.event),
      partition: record.partition,
      offset: record.offset,
      timeUs: parseTimestampMicros(r.event.timestamp) ?? 0,
    });
  }
  const byTenant = new Map<string, { leaves: HashedLeaf[]; ids: Set<string> }>();
  for (const l of leaves) {
    let t = byTenant.get(l.tenantId);
    if (!t) byTenant.set(l.tenantId, (t = { leaves: [], ids: new Set() }));
    if (t.ids.has(l.eventId)) continue;
    t.ids.add(l.eventId);
    t.leaves.push(l);
  }
  const tenants: HashedBatch['tenants'] = [];
  for (const [tenantId, t] of byTenant) {
    const known = frontiers?.get(tenantId);
    if (!frontiers || !known) {
      tenants.push({ tenantId, leaves: t.leaves });
      continue;
    }
    const grown = extendTree(
      tenantId,
      known.size,
      known.nodes,
      t.leaves.map((l) => l.hash),
    );
    frontiers.delete(tenantId);
    frontiers.set(tenantId, { size: known.size + t.leaves.length, nodes: grown.frontier });
    tenants.push({ tenantId, leaves: t.leaves, grown });
  }
  return { tenants, refused };
}

/** Applies the appender's seeds to the hasher's frontiers (bounded, oldest out). */
export function applySeeds(frontiers: Map<string, { size: number; nodes: Frontier }>, seeds: FrontierSeed[]): void {
  for (const { tenantId, frontier } of seeds) {
    frontiers.delete(tenantId);
    if (frontier) frontiers.set(tenantId, frontier);
  }
  while (frontiers.size > SPECULATED_TENANTS) frontiers.delete(frontiers.keys().next().value as string);
}

export interface LeafHasher {
  hash(records: BusRecord[], options: HashOptions, seeds: FrontierSeed[]): Promise<HashedBatch>;
  close(): Promise<void>;
}

export interface HashRequest {
  records: BusRecord[];
  options: HashOptions;
  seeds: FrontierSeed[];
}

/** The hasher's side: its frontiers, kept between batches. */
export function hasherSession(): (request: HashRequest) => HashedBatch {
  const frontiers = new Map<string, { size: number; nodes: Frontier }>();
  return ({ records, options, seeds }) => {
    applySeeds(frontiers, seeds);
    return hashRecords(records, options, frontiers);
  };
}

/** Structured clone hands Uint8Arrays back; the tree store compares and writes Buffers. */
function withBuffers(out: HashedBatch): HashedBatch {
  for (const t of out.tenants) {
    for (const l of t.leaves) l.hash = asBuffer(l.hash);
    if (t.grown) {
      t.grown.nodeHash = t.grown.nodeHash.map(asBuffer);
      for (const f of [t.grown.frontier, t.grown.base]) for (const [k, v] of f) f.set(k, asBuffer(v));
    }
  }
  for (const r of out.refused) r.value = asBuffer(r.value as Uint8Array);
  return out;
}

const WORKER_SCRIPT = path.join(__dirname, 'leaf-hasher.worker.js');

/**
 * The integrity consumer's per-event work (JSON decoding and validation, the canonical leaf encoding and its
 * SHA-256: about 15 µs an event) on a worker thread, so the thread that answers HTTP and appends the tree
 * does not do it; the records are copied there and the hashes back. From the TypeScript sources (jest),
 * where there is no compiled worker, it runs on the calling thread.
 */
export function leafHasher(): LeafHasher {
  if (!existsSync(WORKER_SCRIPT)) {
    const session = hasherSession();
    return { hash: async (records, options, seeds) => session({ records, options, seeds }), close: async () => undefined };
  }
  const rpc = new WorkerRpc<HashRequest, HashedBatch>(WORKER_SCRIPT, { name: 'integrity leaf hasher' });
  return {
    hash: async (records, options, seeds) => withBuffers(await rpc.call({ records, options, seeds })),
    close: () => rpc.close(),
  };
}
