import { memoryTree, rootHash } from './merkle';

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
 * The Merkle tree hash (RFC 6962) over a subset of a tree's leaves, taken in leaf-index order: `leaves` pairs
 * each index with its leaf hash, in any order. Not a node of the tree (the subset is not a contiguous range),
 * but a commitment to exactly these leaves that anyone holding their events can recompute.
 */
export function subsetRoot(leaves: Array<{ index: number; hash: Buffer }>): Buffer {
  const sorted = [...leaves].sort((a, b) => a.index - b.index);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].index === sorted[i - 1].index) throw new Error(`leaf ${sorted[i].index} appears twice`);
  }
  return rootHash(memoryTree(sorted.map((l) => l.hash)), sorted.length);
}
