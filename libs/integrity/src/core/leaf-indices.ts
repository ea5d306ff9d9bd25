import { EMPTY_ROOT, hashChildren } from './merkle';

/**
 * A list of leaf indices (−1: no leaf) as base64 of zigzag varints of the differences between neighbours:
 * an archive's events sit close together in the tree (their category's share of each append), so most
 * differences take one or two bytes, against nine characters each as JSON numbers.
 */
export function encodeLeafIndices(indices: ArrayLike<number>): string {
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < indices.length; i++) {
    const d = indices[i] - prev;
    prev = indices[i];
    // Zigzag without 32-bit bit operators (exact for differences below 2^52): 0, -1, 1, -2 ... as 0, 1, 2, 3 ...
    let z = d >= 0 ? d * 2 : -d * 2 - 1;
    while (z >= 0x80) {
      out.push((z % 0x80) | 0x80);
      z = Math.floor(z / 0x80);
    }
    out.push(z);
  }
  return Buffer.from(out).toString('base64');
}

export function decodeLeafIndices(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < bytes.length;) {
    let z = 0;
    let scale = 1;
    for (;;) {
      if (i >= bytes.length) throw new Error('leaf indices: truncated varint');
      const b = bytes[i++];
      z += (b & 0x7f) * scale;
      scale *= 0x80;
      if (b < 0x80) break;
    }
    prev += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    out.push(prev);
  }
  return out;
}

/**
 * The RFC 6962 tree hash of leaf hashes given one at a time in order, in O(log n) memory: a stack of perfect
 * subtrees (one per set bit of the count, largest first), folded from the right at the end, which is MTH's
 * split at the largest power of two below n.
 */
export class TreeHashBuilder {
  private readonly stack: Array<{ size: number; hash: Buffer }> = [];
  count = 0;

  add(leafHash: Buffer): void {
    let node = { size: 1, hash: leafHash };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1].size === node.size) {
      const left = this.stack.pop()!;
      node = { size: left.size * 2, hash: hashChildren(left.hash, node.hash) };
    }
    this.stack.push(node);
    this.count++;
  }

  root(): Buffer {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let acc = this.stack[this.stack.length - 1].hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = hashChildren(this.stack[i].hash, acc);
    return acc;
  }
}

/**
 * The Merkle tree hash (RFC 6962) over a subset of a tree's leaves, taken in leaf-index order: `leaves` pairs
 * each index with its leaf hash, in any order. Not a node of the tree (the subset is not a contiguous range),
 * but a commitment to exactly these leaves that anyone holding their events can recompute.
 */
export function subsetRoot(leaves: Array<{ index: number; hash: Buffer }>): Buffer {
  const sorted = [...leaves].sort((a, b) => a.index - b.index);
  const tree = new TreeHashBuilder();
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i].index === sorted[i - 1].index) throw new Error(`leaf ${sorted[i].index} appears twice`);
    tree.add(sorted[i].hash);
  }
  return tree.root();
}
