import { createHash } from 'node:crypto';

/**
 * RFC 6962 / RFC 9162 Merkle tree hashing and proofs, pure. Leaves are `SHA-256(0x00 ‖ data)`, nodes
 * `SHA-256(0x01 ‖ left ‖ right)`, a range splits at the largest power of two smaller than its size.
 *
 * Proof generation reads only *perfect* nodes (aligned subtrees of 2^level leaves, immutable once complete)
 * through a `NodeSource`, so a store keeps those and never a whole tree in memory; `collectNodes` lists the
 * ones a proof needs so the store fetches them in one query. Tested on the transparency-dev vectors.
 */

export const HASH_SIZE = 32;
export const EMPTY_ROOT = createHash('sha256').digest();

export function hashLeaf(data: Uint8Array): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0x00]))
    .update(data)
    .digest();
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0x01]))
    .update(left)
    .update(right)
    .digest();
}

/** The hash of the perfect subtree of 2^level leaves starting at leaf `index << level`. */
export type NodeSource = (level: number, index: number) => Buffer;

/** A perfect node's coordinates. */
export interface NodeId {
  level: number;
  index: number;
}

/** Largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// Math.log2 is exact on powers of two; bitwise tricks would stop at 2^31 leaves.
const isPowerOfTwo = (n: number) => n > 0 && Number.isInteger(Math.log2(n));

function checkSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer`);
}

/** MTH(D[start:end]); `start` is always aligned to the subtree sizes RFC 6962's recursion produces. */
export function rangeHash(node: NodeSource, start: number, end: number): Buffer {
  const n = end - start;
  if (n === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n) && start % n === 0) return node(Math.log2(n), start / n);
  const k = splitPoint(n);
  return hashChildren(rangeHash(node, start, start + k), rangeHash(node, start + k, end));
}

export function rootHash(node: NodeSource, size: number): Buffer {
  checkSize('size', size);
  return rangeHash(node, 0, size);
}

/** RFC 6962 §2.1.1 PATH(m, D[n]), leaf to root. */
export function inclusionProof(node: NodeSource, index: number, size: number): Buffer[] {
  checkSize('size', size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`index ${index} is outside a tree of ${size}`);
  const path = (m: number, start: number, end: number): Buffer[] => {
    const n = end - start;
    if (n === 1) return [];
    const k = splitPoint(n);
    return m < k
      ? [...path(m, start, start + k), rangeHash(node, start + k, end)]
      : [...path(m - k, start + k, end), rangeHash(node, start, start + k)];
  };
  return path(index, 0, size);
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]). */
export function consistencyProof(node: NodeSource, size1: number, size2: number): Buffer[] {
  checkSize('size1', size1);
  checkSize('size2', size2);
  if (size1 > size2) throw new RangeError(`size1 ${size1} is larger than size2 ${size2}`);
  if (size1 === 0 || size1 === size2) return [];
  const sub = (m: number, start: number, end: number, whole: boolean): Buffer[] => {
    const n = end - start;
    if (m === n) return whole ? [] : [rangeHash(node, start, end)];
    const k = splitPoint(n);
    return m <= k
      ? [...sub(m, start, start + k, whole), rangeHash(node, start + k, end)]
      : [...sub(m - k, start + k, end, false), rangeHash(node, start, start + k)];
  };
  return sub(size1, 0, size2, true);
}

/** The perfect nodes `compute` reads, deduplicated, so a store can fetch them at once before computing. */
export function collectNodes(compute: (node: NodeSource) => unknown): NodeId[] {
  const seen = new Map<string, NodeId>();
  compute((level, index) => {
    seen.set(`${level}/${index}`, { level, index });
    return EMPTY_ROOT;
  });
  return [...seen.values()];
}

/** A NodeSource over fetched nodes; a missing one is a store inconsistency, not a proof failure. */
export function nodeMap(nodes: Iterable<{ level: number; index: number; hash: Buffer }>): NodeSource {
  const map = new Map<string, Buffer>();
  for (const n of nodes) map.set(`${n.level}/${n.index}`, n.hash);
  return (level, index) => {
    const h = map.get(`${level}/${index}`);
    if (h === undefined) throw new Error(`node ${level}/${index} is missing`);
    return h;
  };
}

/** A NodeSource over all leaf hashes in memory (the offline verifier, tests): perfect nodes computed and cached. */
export function memoryTree(leafHashes: readonly Buffer[]): NodeSource {
  const cache = new Map<string, Buffer>();
  const node: NodeSource = (level, index) => {
    if (level === 0) {
      const h = leafHashes[index];
      if (h === undefined) throw new Error(`leaf ${index} is missing`);
      return h;
    }
    const key = `${level}/${index}`;
    let h = cache.get(key);
    if (h === undefined) {
      h = hashChildren(node(level - 1, 2 * index), node(level - 1, 2 * index + 1));
      cache.set(key, h);
    }
    return h;
  };
  return node;
}

/**
 * MTH over leaf hashes given one at a time, in index order, in O(log n) memory: the perfect subtrees of
 * the binary decomposition of the count so far, largest first (what a whole-tree check over millions of
 * leaves folds into instead of holding every hash).
 */
export class StreamingRoot {
  private readonly stack: Array<{ hash: Buffer; leaves: number }> = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  push(leafHash: Buffer): void {
    let top = { hash: leafHash, leaves: 1 };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1].leaves === top.leaves) {
      const left = this.stack.pop()!;
      top = { hash: hashChildren(left.hash, top.hash), leaves: left.leaves * 2 };
    }
    this.stack.push(top);
    this.n += 1;
  }

  /** The root of the leaves pushed so far: the subtrees folded from the right (RFC 6962's split). */
  root(): Buffer {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let acc = this.stack[this.stack.length - 1].hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = hashChildren(this.stack[i].hash, acc);
    return acc;
  }
}

/**
 * A perfect node computed from the 2^level leaves below it: for the levels a store does not keep (their
 * leaves are few and stored anyway). `leaf(i)` returns leaf i's hash.
 */
export function perfectNodeHash(leaf: (index: number) => Buffer, level: number, index: number): Buffer {
  if (level === 0) return leaf(index);
  return hashChildren(perfectNodeHash(leaf, level - 1, 2 * index), perfectNodeHash(leaf, level - 1, 2 * index + 1));
}

/**
 * The perfect nodes that become complete when leaf `index` is appended (level ≥ 1), bottom up: the store
 * writes the upper ones with the leaf, so a later proof is a few lookups. `left(level, i)` is the sibling
 * already in the tree.
 */
export function completedNodes(index: number, leafHash: Buffer, left: NodeSource): Array<NodeId & { hash: Buffer }> {
  const out: Array<NodeId & { hash: Buffer }> = [];
  let hash = leafHash;
  let i = index;
  let level = 0;
  while (i % 2 === 1) {
    hash = hashChildren(left(level, i - 1), hash);
    i = (i - 1) / 2;
    level += 1;
    out.push({ level, index: i, hash });
  }
  return out;
}

export class ProofError extends Error {}

/** RFC 9162 §2.1.3.2: the root an inclusion proof yields; throws ProofError on a malformed proof. */
export function rootFromInclusionProof(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    throw new ProofError(`index ${index} is beyond size ${size}`);
  if (leafHash.length !== HASH_SIZE) throw new ProofError(`leaf hash has ${leafHash.length} bytes, want ${HASH_SIZE}`);
  let fn = index;
  let sn = size - 1;
  let r = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) throw new ProofError('proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
    } else {
      r = hashChildren(r, p);
    }
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  if (sn !== 0) throw new ProofError('proof is too short');
  return r;
}

export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    return rootFromInclusionProof(index, size, leafHash, proof).equals(root);
  } catch (e) {
    if (e instanceof ProofError) return false;
    throw e;
  }
}

/** RFC 9162 §2.1.4.2, with transparency-dev's rules for the edge sizes (a proof from the empty tree proves nothing). */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false;
  if (size1 === 0) return false;
  if (size1 === size2) return proof.length === 0 && Buffer.from(root1).equals(root2);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  let fr = Buffer.from(path[0]);
  let sr = Buffer.from(path[0]);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
    } else {
      sr = hashChildren(sr, c);
    }
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}
