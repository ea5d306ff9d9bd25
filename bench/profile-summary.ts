import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

/**
 * The top functions of a V8 .cpuprofile (from `npm run bench -- --cpu-prof`) by self time, and by inclusive
 * time for names matching an optional pattern: `node dist/bench/profile-summary.js <file> [pattern] [rows]`.
 */
function main(): void {
  const [file, pattern, rowsArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: node dist/bench/profile-summary.js <file.cpuprofile> [pattern] [rows]');
  const rows = Number(rowsArg ?? 25);
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const msPerSample = (p.endTime - p.startTime) / 1000 / p.samples.length;
  const label = (n: ProfileNode): string =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const id of p.samples) {
    const leaf = nodes.get(id)!;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + msPerSample);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(nodes.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + msPerSample);
    }
  }
  const total = p.samples.length * msPerSample;
  const print = (title: string, m: Map<string, number>, filter: (k: string) => boolean): void => {
    console.log(`\n${title}`);
    for (const [k, v] of [...m]
      .filter(([k2]) => filter(k2))
      .sort((a, b) => b[1] - a[1])
      .slice(0, rows)) {
      console.log(`${v.toFixed(0).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
    }
  };
  console.log(`${file}: ${(total / 1000).toFixed(1)} s sampled`);
  print('self time', self, () => true);
  if (pattern) print(`inclusive time, names matching /${pattern}/`, inclusive, (k) => new RegExp(pattern).test(k));
}

main();
