/**
 * Offline verifier: checks exported events against a signed checkpoint and the log's public key, with no
 * access to the service (README "How an auditor verifies", docs/api.md "Integrity").
 *
 *   node dist/apps/integrity/src/verify-cli.js --key <verifier key | file> --checkpoint <note file> <export.ndjson>
 *
 * Each NDJSON line is an event as GET /audit/events/:id returns it, with the answer of
 * GET /audit/events/:id/proof under "proof" (or a line {"event": ..., "proof": ...}). For every line the leaf
 * is recomputed from the event (v1: 0x01 ‖ JCS), and its inclusion proof checked against the checkpoint's
 * root. When the lines are the whole tree (leaf indexes 0 .. size-1), the root is also recomputed from them,
 * so nothing was left out. Exit status: 0 all verified, 1 a finding, 2 bad usage or input.
 *
 *   node dist/apps/integrity/src/verify-cli.js --archive-manifest <manifest.json> [--key <k> --checkpoint <note>] <archive.jsonl[.gz]>
 *
 * An archive (decrypted: `age -d -i <identity> <object>`; gunzipped here when the name ends in .gz) against
 * its manifest (one entry of GET /audit/archives): each line's leaf is recomputed, paired with the manifest's
 * leaf index for that line, and the tree hash over them in leaf order compared with `integrity.leaves_root`;
 * with a checkpoint, that it is the one the manifest was taken against and covers every leaf.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import {
  ArchiveLeavesView,
  Checkpoint,
  decodeLeafIndices,
  leafHashOf,
  memoryTree,
  NoteError,
  openCheckpoint,
  parseVerifierKey,
  rootHash,
  subsetRoot,
  verifyInclusion,
} from '@app/integrity';
import { type AuditEvent, parseJsonLines } from '@app/contracts';

interface Line {
  event: AuditEvent;
  proof?: { leaf_index: number; leaf_hash?: string; tree_size: number; proof: string[] };
}

interface Result {
  line: number;
  id: string;
  status: 'verified' | 'modified' | 'no_proof' | 'other_tree';
  leaf_index?: number;
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function readMaybeFile(value: string): string {
  try {
    return readFileSync(value, 'utf8');
  } catch {
    return value;
  }
}

export function verifyExport(lines: Line[], checkpoint: Checkpoint): { ok: boolean; complete: boolean | null; results: Result[] } {
  const results: Result[] = lines.map((l, i) => {
    const id = l.event.id;
    const p = l.proof;
    if (p === undefined) return { line: i + 1, id, status: 'no_proof' };
    if (p.tree_size !== checkpoint.size) return { line: i + 1, id, status: 'other_tree', leaf_index: p.leaf_index };
    const ok = verifyInclusion(
      p.leaf_index,
      checkpoint.size,
      leafHashOf(l.event),
      p.proof.map((h) => Buffer.from(h, 'base64')),
      checkpoint.rootHash,
    );
    return { line: i + 1, id, status: ok ? 'verified' : 'modified', leaf_index: p.leaf_index };
  });
  // Complete: one line per leaf of the checkpoint's tree, in leaf order, hashing to its root.
  let complete: boolean | null = null;
  const indexed = lines.filter((l) => l.proof !== undefined);
  if (indexed.length === lines.length && lines.length === checkpoint.size && lines.every((l, i) => l.proof!.leaf_index === i)) {
    complete = rootHash(memoryTree(lines.map((l) => leafHashOf(l.event))), checkpoint.size).equals(checkpoint.rootHash);
  } else if (checkpoint.size === 0) {
    complete = lines.length === 0;
  }
  const ok = results.every((r) => r.status === 'verified') && complete !== false;
  return { ok, complete, results };
}

export interface ArchiveReport {
  ok: boolean;
  events: number;
  leaves: number;
  missing: number;
  /** The manifest's index list has one entry per line. */
  indices_match_lines: boolean;
  leaves_root_matches: boolean;
  /** The checkpoint given is the manifest's and covers every leaf; null without one. */
  checkpoint_matches: boolean | null;
}

export function verifyArchive(events: AuditEvent[], view: ArchiveLeavesView, checkpoint?: Checkpoint): ArchiveReport {
  const indices = decodeLeafIndices(view.leaf_indices);
  const indicesMatch = indices.length === events.length;
  let rootMatches = false;
  const leaves: Array<{ index: number; hash: Buffer }> = [];
  if (indicesMatch) {
    events.forEach((e, i) => {
      if (indices[i] >= 0) leaves.push({ index: indices[i], hash: leafHashOf(e) });
    });
    try {
      rootMatches = subsetRoot(leaves).toString('base64') === view.leaves_root;
    } catch {
      rootMatches = false;
    }
  }
  const checkpointMatches =
    checkpoint === undefined
      ? null
      : checkpoint.size === view.checkpoint.tree_size &&
        checkpoint.rootHash.toString('base64') === view.checkpoint.root_hash &&
        (view.last_leaf_index ?? -1) < checkpoint.size;
  return {
    ok: indicesMatch && rootMatches && leaves.length === view.leaf_count && checkpointMatches !== false,
    events: events.length,
    leaves: leaves.length,
    missing: indices.filter((i) => i < 0).length,
    indices_match_lines: indicesMatch,
    leaves_root_matches: rootMatches,
    checkpoint_matches: checkpointMatches,
  };
}

function archiveMain(argv: string[], manifestFile: string, key: string | undefined, checkpointFile: string | undefined): number {
  const named = ['--key', '--checkpoint', '--origin', '--archive-manifest'];
  const file = argv.filter((a, i) => !a.startsWith('--') && !named.includes(argv[i - 1]))[0];
  if (file === undefined || (key === undefined) !== (checkpointFile === undefined)) {
    process.stderr.write('usage: verify-cli --archive-manifest <manifest.json> [--key <k> --checkpoint <note>] <archive.jsonl[.gz]>\n');
    return 2;
  }
  let view: ArchiveLeavesView | null;
  let events: AuditEvent[];
  try {
    view = (JSON.parse(readFileSync(manifestFile, 'utf8')) as { integrity?: ArchiveLeavesView | null }).integrity ?? null;
    const raw = readFileSync(file);
    const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    events = parseJsonLines<AuditEvent>(text);
  } catch (e) {
    process.stderr.write(`cannot read the manifest or the archive: ${(e as Error).message}\n`);
    return 2;
  }
  if (view === null) {
    process.stderr.write('the manifest has no integrity view (the integrity capability did not run when it was archived)\n');
    return 2;
  }
  let checkpoint: Checkpoint | undefined;
  if (key !== undefined && checkpointFile !== undefined) {
    try {
      checkpoint = openCheckpoint(readFileSync(checkpointFile, 'utf8'), [parseVerifierKey(readMaybeFile(key))], view.checkpoint.origin);
    } catch (e) {
      process.stderr.write(`checkpoint does not verify: ${(e as Error).message}\n`);
      return e instanceof NoteError ? 1 : 2;
    }
  }
  const report = verifyArchive(events, view, checkpoint);
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  return report.ok ? 0 : 1;
}

function main(argv: string[]): number {
  const manifest = arg(argv, '--archive-manifest');
  if (manifest !== undefined) return archiveMain(argv, manifest, arg(argv, '--key'), arg(argv, '--checkpoint'));
  const key = arg(argv, '--key');
  const checkpointFile = arg(argv, '--checkpoint');
  const origin = arg(argv, '--origin');
  const file = argv.filter((a, i) => !a.startsWith('--') && !['--key', '--checkpoint', '--origin'].includes(argv[i - 1]))[0];
  if (key === undefined || checkpointFile === undefined || file === undefined) {
    process.stderr.write(
      'usage: verify-cli --key <verifier key or file> --checkpoint <signed note file> [--origin <origin>] <export.ndjson>\n',
    );
    return 2;
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(readFileSync(checkpointFile, 'utf8'), [parseVerifierKey(readMaybeFile(key))], origin);
  } catch (e) {
    process.stderr.write(`checkpoint does not verify: ${(e as Error).message}\n`);
    return e instanceof NoteError ? 1 : 2;
  }
  const lines: Line[] = [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(`cannot read the export ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    try {
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      const event = (parsed.event ?? parsed) as AuditEvent & { proof?: Line['proof'] };
      const proof = (parsed.proof ?? undefined) as Line['proof'];
      const { proof: _drop, ...bare } = event;
      void _drop;
      lines.push({ event: bare as AuditEvent, proof });
    } catch {
      process.stderr.write(`line ${i + 1}: not JSON\n`);
      return 2;
    }
  }
  const report = verifyExport(lines, checkpoint);
  process.stdout.write(
    JSON.stringify(
      {
        ok: report.ok,
        checkpoint: { origin: checkpoint.origin, tree_size: checkpoint.size, root_hash: checkpoint.rootHash.toString('base64') },
        complete: report.complete,
        events: report.results.length,
        findings: report.results.filter((r) => r.status !== 'verified'),
      },
      null,
      2,
    ) + '\n',
  );
  return report.ok ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
