import { completedNodes, NodeId, NodeSource } from './merkle';

/** The perfect nodes on a tree's right edge: the only ones the next leaves hash with (one per set bit of size). */
export function frontierOf(size: number): NodeId[] {
  const out: NodeId[] = [];
  for (let level = 0; 2 ** level <= size; level++) {
    if (Math.floor(size / 2 ** level) % 2 === 1) out.push({ level, index: Math.floor(size / 2 ** level) - 1 });
  }
  return out;
}

/**
 * The lowest level of inner node the store keeps. A node of level 1-3 covers at most 8 leaves whose hashes are
 * stored anyway, and such nodes are 7 of every 8: the few a proof or the frontier reads are recomputed from
 * the ≤ 16 leaves of their block (one indexed read of leaf rows, ≤ 15 hashes), and an append writes about one
 * node row per 8 leaves instead of one per leaf.
 */
export const STORED_NODE_LEVEL = 4;

/** A tree's frontier nodes by `level/index` (see frontierOf). */
export type Frontier = Map<string, Buffer>;

/** What appending leaves at `start` adds: the stored nodes they complete (level ≥ STORED_NODE_LEVEL) and the new frontier. */
export interface GrownTree {
  start: number;
  /** The frontier it grew from (at `start`). */
  base: Frontier;
  nodeLevel: number[];
  nodeIndex: number[];
  nodeHash: Buffer[];
  frontier: Frontier;
}

/** Appends leaf hashes to a tree of `start` leaves whose frontier is given: pure, so any thread can run it. */
export function extendTree(tenantId: string, start: number, frontier: Frontier, hashes: Buffer[]): GrownTree {
  const known = new Map(frontier);
  const left: NodeSource = (level, index) => {
    const hash = known.get(`${level}/${index}`);
    if (hash === undefined) throw new Error(`integrity tree of ${tenantId}: node ${level}/${index} of the frontier is missing`);
    return hash;
  };
  const nodeLevel: number[] = [];
  const nodeIndex: number[] = [];
  const nodeHash: Buffer[] = [];
  let index = start;
  for (const hash of hashes) {
    for (const n of completedNodes(index, hash, left)) {
      known.set(`${n.level}/${n.index}`, n.hash);
      if (n.level < STORED_NODE_LEVEL) continue;
      nodeLevel.push(n.level);
      nodeIndex.push(n.index);
      nodeHash.push(n.hash);
    }
    // A leaf is a frontier node only while its index is even (level 0 of an odd size).
    if (index % 2 === 0) known.set(`0/${index}`, hash);
    index++;
  }
  const size = start + hashes.length;
  const next: Frontier = new Map();
  for (const n of frontierOf(size)) next.set(`${n.level}/${n.index}`, known.get(`${n.level}/${n.index}`)!);
  return { start, base: frontier, nodeLevel, nodeIndex, nodeHash, frontier: next };
}

/** Whether two frontiers hold the same nodes with the same hashes. */
export function sameFrontier(a: Frontier, b: Frontier): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !w.equals(v)) return false;
  }
  return true;
}
