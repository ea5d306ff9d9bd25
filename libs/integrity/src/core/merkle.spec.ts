import {
  collectNodes,
  completedNodes,
  consistencyProof,
  EMPTY_ROOT,
  hashLeaf,
  inclusionProof,
  memoryTree,
  nodeMap,
  perfectNodeHash,
  rootHash,
  StreamingRoot,
  verifyConsistency,
  verifyInclusion,
} from './merkle';
import vectors from './testdata/transparency-dev-vectors.json';

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
  file: string;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
  file: string;
}

const b64 = (s: string) => Buffer.from(s, 'base64');
const leaves = vectors.leafInputsHex.map((h) => hashLeaf(Buffer.from(h, 'hex')));
const tree = memoryTree(leaves);
const prefix = (n: number) => memoryTree(leaves.slice(0, n));

describe('merkle (RFC 6962)', () => {
  it('should compute the transparency-dev root of every prefix of the reference leaves', () => {
    vectors.rootsHex.forEach((root, size) => expect(rootHash(prefix(size), size).toString('hex')).toBe(root));
    expect(EMPTY_ROOT.toString('hex')).toBe(vectors.rootsHex[0]);
  });

  describe.each((vectors.inclusion as InclusionVector[]).map((v) => [v.file, v] as const))('inclusion %s', (_f, v) => {
    it(`should ${v.wantErr ? 'refuse' : 'accept'} the proof (${v.desc})`, () => {
      const ok = verifyInclusion(v.leafIdx, v.treeSize, b64(v.leafHash), (v.proof ?? []).map(b64), b64(v.root));
      expect(ok).toBe(!v.wantErr);
    });
    if (!v.wantErr && v.treeSize <= leaves.length && v.treeSize > 0) {
      it('should generate exactly that proof from the reference tree', () => {
        const proof = inclusionProof(prefix(v.treeSize), v.leafIdx, v.treeSize).map((h) => h.toString('base64'));
        expect(proof).toEqual(v.proof ?? []);
      });
    }
  });

  describe.each((vectors.consistency as ConsistencyVector[]).map((v) => [v.file, v] as const))('consistency %s', (_f, v) => {
    it(`should ${v.wantErr ? 'refuse' : 'accept'} the proof (${v.desc})`, () => {
      const ok = verifyConsistency(v.size1, v.size2, (v.proof ?? []).map(b64), b64(v.root1), b64(v.root2));
      expect(ok).toBe(!v.wantErr);
    });
    if (!v.wantErr && v.size2 <= leaves.length && v.size1 > 0 && v.file.match(/^consistency\/\d\//)) {
      it('should generate exactly that proof from the reference tree', () => {
        const proof = consistencyProof(prefix(v.size2), v.size1, v.size2).map((h) => h.toString('base64'));
        expect(proof).toEqual(v.proof ?? []);
      });
    }
  });

  it('should verify generated proofs for every index and every pair of sizes up to 70 leaves', () => {
    const many = Array.from({ length: 70 }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)));
    const big = memoryTree(many);
    for (let size = 1; size <= many.length; size++) {
      const root = rootHash(big, size);
      for (let i = 0; i < size; i++) expect(verifyInclusion(i, size, many[i], inclusionProof(big, i, size), root)).toBe(true);
      for (let s1 = 1; s1 <= size; s1++) {
        expect(verifyConsistency(s1, size, consistencyProof(big, s1, size), rootHash(big, s1), root)).toBe(true);
      }
    }
  });

  it('should refuse a proof checked against the wrong leaf or a wrong index', () => {
    const root = rootHash(tree, 8);
    const proof = inclusionProof(tree, 3, 8);
    expect(verifyInclusion(3, 8, leaves[3], proof, root)).toBe(true);
    expect(verifyInclusion(3, 8, leaves[4], proof, root)).toBe(false);
    expect(verifyInclusion(2, 8, leaves[3], proof, root)).toBe(false);
  });

  describe(perfectNodeHash.name, () => {
    it('should give each perfect node of levels 0-4 from the leaves below it, as the recursive tree does', () => {
      const many = Array.from({ length: 48 }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)));
      const reference = memoryTree(many);
      for (let level = 0; level <= 4; level++) {
        for (let index = 0; (index + 1) * 2 ** level <= many.length; index++) {
          expect(perfectNodeHash((i) => many[i], level, index)).toEqual(reference(level, index));
        }
      }
      expect(perfectNodeHash((i) => many[i], 3, 1)).not.toEqual(perfectNodeHash((i) => many[i], 3, 2));
    });
  });

  describe(StreamingRoot.name, () => {
    it('should give the transparency-dev root of every prefix, one leaf at a time', () => {
      const acc = new StreamingRoot();
      expect(acc.root().toString('hex')).toBe(vectors.rootsHex[0]);
      leaves.forEach((h, i) => {
        acc.push(h);
        expect(acc.size).toBe(i + 1);
        expect(acc.root().toString('hex')).toBe(vectors.rootsHex[i + 1]);
      });
    });

    it('should agree with the recursive tree on sizes past the vectors, powers of two and not', () => {
      const many = Array.from({ length: 70 }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)));
      const acc = new StreamingRoot();
      many.forEach((h, i) => {
        acc.push(h);
        expect(acc.root()).toEqual(rootHash(memoryTree(many.slice(0, i + 1)), i + 1));
      });
      // A swap of two leaves changes the root.
      const swapped = new StreamingRoot();
      [many[1], many[0], ...many.slice(2)].forEach((h) => swapped.push(h));
      expect(swapped.root()).not.toEqual(acc.root());
    });
  });

  describe(completedNodes.name, () => {
    it('should, appended leaf by leaf, store exactly the perfect nodes a proof reads', () => {
      // given the stored nodes of an incrementally built tree of 13 leaves
      const stored = new Map<string, Buffer>();
      leaves.concat(leaves.slice(0, 5)).forEach((h, i) => {
        stored.set(`0/${i}`, h);
        for (const n of completedNodes(i, h, (l, j) => stored.get(`${l}/${j}`)!)) stored.set(`${n.level}/${n.index}`, n.hash);
      });
      const all = leaves.concat(leaves.slice(0, 5));
      // when the nodes of a proof are collected and fetched
      const compute = (node: (l: number, i: number) => Buffer) => [rootHash(node, 13), ...inclusionProof(node, 6, 13)];
      const wanted = collectNodes(compute);
      const fetched = nodeMap(wanted.map((n) => ({ ...n, hash: stored.get(`${n.level}/${n.index}`)! })));
      // then the result matches the in-memory tree
      expect(compute(fetched)).toEqual(compute(memoryTree(all)));
      expect(wanted.length).toBeLessThan(13);
    });
  });
});
