import { createHash } from 'node:crypto';
import { hashLeaf, memoryTree, rootHash } from './merkle';
import { decodeLeafIndices, encodeLeafIndices, subsetRoot, TreeHashBuilder } from './leaf-indices';

describe('leaf indices of an archive', () => {
  it.each([[[]], [[0]], [[-1, -1, 5]], [[7, 3, 1_000_000, 999_999, -1, 2 ** 40, 0]], [[2 ** 50, 0, -1]]])(
    'should decode what it encoded (%j)',
    (indices) => {
      expect(decodeLeafIndices(encodeLeafIndices(indices))).toEqual(indices);
    },
  );

  it('should take one byte per index when neighbours are close', () => {
    const indices = Array.from({ length: 1000 }, (_, i) => 5000 + i * 3);
    // The first difference (5000) takes two bytes, each of the others (3) one.
    expect(Buffer.from(encodeLeafIndices(indices), 'base64')).toHaveLength(1001);
  });

  it('should refuse a truncated list', () => {
    expect(() => decodeLeafIndices(Buffer.from([0x80]).toString('base64'))).toThrow(/truncated/);
  });
});

describe('subsetRoot', () => {
  const h = (i: number) => hashLeaf(createHash('sha256').update(String(i)).digest());

  it('given leaves in any order, when hashed, then it is the tree hash over them in leaf order', () => {
    const indices = [9, 2, 30, 4, 17];
    const inLeafOrder = [...indices].sort((a, b) => a - b).map(h);
    const expected = rootHash(memoryTree(inLeafOrder), inLeafOrder.length);
    expect(subsetRoot(indices.map((index) => ({ index, hash: h(index) })))).toEqual(expected);
  });

  it('given a contiguous range from 0, then it equals the tree root of that size', () => {
    const leaves = Array.from({ length: 13 }, (_, i) => h(i));
    expect(subsetRoot(leaves.map((hash, index) => ({ index, hash })).reverse())).toEqual(rootHash(memoryTree(leaves), 13));
  });

  it('should refuse a leaf named twice', () => {
    expect(() =>
      subsetRoot([
        { index: 1, hash: h(1) },
        { index: 1, hash: h(1) },
      ]),
    ).toThrow(/twice/);
  });
});

describe(TreeHashBuilder.name, () => {
  it('should give the RFC 6962 root of every size from 0 to 70, one leaf at a time', () => {
    const leaves = Array.from({ length: 70 }, (_, i) => hashLeaf(Buffer.from([i])));
    for (let n = 0; n <= 70; n++) {
      const sut = new TreeHashBuilder();
      for (const h of leaves.slice(0, n)) sut.add(h);
      expect([n, sut.root()]).toEqual([n, rootHash(memoryTree(leaves.slice(0, n)), n)]);
    }
  });
});
