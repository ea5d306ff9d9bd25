import { createPublicKey, KeyObject } from 'node:crypto';
import { Logger } from 'pino';
import { AuditError, ErrorCode, formatMicros, NotFoundError, StoredAuditEvent, ValidationError } from '@app/contracts';
import type { IngestPort } from '@app/ingest';
import type { QueryPort, RangeCursor } from '@app/query';
import { ComponentHealth } from '@app/runtime';
import {
  checkpointText,
  consistencyProof,
  encodeLeafIndices,
  inclusionProof,
  leafEncodingOf,
  leafHashOf,
  memoryTree,
  rootHash,
  signNote,
  TreeHashBuilder,
  verifierKeyText,
} from './core';
import {
  ArchiveLeavesView,
  CheckpointView,
  ConsistencyView,
  Finding,
  InclusionProofView,
  IntegrityPort,
  PolicyRemoval,
  PolicyRemovalView,
  PublicKeyView,
  VerifyRange,
  VerifyReport,
} from './integrity.port';
import { PruningStore } from './pruning.store';
import { StoredCheckpoint, StoredLeaf, TreeStore } from './tree.store';

export class NotYetCheckpointedError extends AuditError {
  constructor(message: string) {
    super(ErrorCode.NotYetCheckpointed, message, 409);
  }
}

export const CHECKPOINT_EVENT_TYPE = 'integrity_checkpoint';
export const MISMATCH_EVENT_TYPE = 'integrity_mismatch';
const PAGE = 5000;
const MAX_FINDINGS = 1000;

function highest(positions: Array<{ partition: number; offset: string }>): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const p of positions) {
    const o = BigInt(p.offset);
    const prev = out.get(p.partition);
    if (prev === undefined || o > prev) out.set(p.partition, o);
  }
  return out;
}

const view = (c: StoredCheckpoint, origin: string): CheckpointView => ({
  origin,
  tree_size: c.size,
  root_hash: c.rootHash.toString('base64'),
  note: c.note,
  reason: c.reason,
  created_at: c.createdAt,
});

export interface IntegrityServiceOptions {
  /** The key name, and the prefix of every tenant's checkpoint origin. */
  origin: string;
  key: KeyObject;
  logger: Logger;
  ingest: () => IngestPort;
  query: () => QueryPort;
  /** What retention removed by policy: verification expects it absent. */
  pruning: PruningStore;
}

/**
 * Checkpoints, proofs and verification over the per-tenant trees. Writes its own audit events (checkpoints,
 * mismatches) through the ingest port; they enter the tree like any other event (see docs/architecture.md).
 */
export class IntegrityService implements IntegrityPort {
  constructor(
    private readonly tree: TreeStore,
    private readonly options: IntegrityServiceOptions,
  ) {}

  originOf(tenantId: string): string {
    return `${this.options.origin}/${tenantId}`;
  }

  async publicKey(): Promise<PublicKeyView> {
    const signer = { name: this.options.origin, privateKey: this.options.key };
    return {
      algorithm: 'ed25519',
      key_name: this.options.origin,
      verifier_key: verifierKeyText(signer),
      public_key_pem: createPublicKey(this.options.key).export({ type: 'spki', format: 'pem' }).toString(),
      origin_prefix: `${this.options.origin}/`,
    };
  }

  async latestCheckpoint(tenantId: string): Promise<CheckpointView> {
    const c = await this.tree.checkpoint(tenantId);
    if (c === null) throw new NotFoundError('no checkpoint yet for this tenant; POST /audit/integrity/checkpoint signs one');
    return view(c, this.originOf(tenantId));
  }

  /** Signs the tree as it is now; a size already signed returns that checkpoint (a log never signs two roots). */
  async createCheckpoint(tenantId: string, reason: string): Promise<CheckpointView> {
    const size = await this.tree.size(tenantId);
    const root = await this.tree.compute(tenantId, (n) => rootHash(n, size));
    const origin = this.originOf(tenantId);
    const note = signNote(checkpointText({ origin, size, rootHash: root }), { name: this.options.origin, privateKey: this.options.key });
    const created = await this.tree.saveCheckpoint({ tenantId, size, rootHash: root, note, reason });
    const stored = (await this.tree.checkpoint(tenantId, size))!;
    if (created) {
      await this.emit(tenantId, {
        event_type: CHECKPOINT_EVENT_TYPE,
        category: 'system_events',
        severity: 'info',
        description: `Signed integrity checkpoint: ${size} events`,
        metadata: { tree_size: size, root_hash: stored.rootHash.toString('base64'), origin, reason },
        // One event per signed size, whatever retries happen.
        idempotency_key: `integrity-checkpoint-${size}`,
      });
    }
    return view(stored, origin);
  }

  async proof(tenantId: string, eventId: string): Promise<InclusionProofView> {
    const leaf = await this.tree.leafOf(tenantId, eventId);
    if (leaf === null) throw new NotFoundError(`event ${eventId} is not in the integrity tree (unknown, or not consumed yet)`);
    const c = await this.tree.checkpoint(tenantId);
    if (c === null || leaf.index >= c.size) {
      throw new NotYetCheckpointedError(
        `event ${eventId} is leaf ${leaf.index}, after the latest checkpoint (${c?.size ?? 0} events); POST /audit/integrity/checkpoint`,
      );
    }
    const [proof, stored] = await Promise.all([
      this.tree.compute(tenantId, (n) => inclusionProof(n, leaf.index, c.size)),
      this.options.query().findById(tenantId, eventId),
    ]);
    return {
      event_id: eventId,
      leaf_index: leaf.index,
      leaf_hash: leaf.leafHash.toString('base64'),
      leaf_encoding: stored === null ? null : leafEncodingOf(stored),
      tree_size: c.size,
      root_hash: c.rootHash.toString('base64'),
      proof: proof.map((h) => h.toString('base64')),
      checkpoint: view(c, this.originOf(tenantId)),
    };
  }

  leafIndices(tenantId: string, eventIds: string[]): Promise<number[]> {
    return this.tree.leafIndices(tenantId, eventIds);
  }

  /**
   * Memory stays at the indices (8 bytes each): the leaves are read in index order a page at a time into a
   * TreeHashBuilder, never all at once.
   */
  async archiveLeaves(tenantId: string, indices: number[]): Promise<ArchiveLeavesView> {
    const present = Float64Array.from(indices.filter((i) => i >= 0)).sort();
    const refused = () =>
      new ValidationError('the indices name a leaf twice or one the tree does not hold', [
        { field: 'indices', message: 'must be distinct leaves of the tree' },
      ]);
    for (let i = 1; i < present.length; i++) if (present[i] === present[i - 1]) throw refused();
    const tree = new TreeHashBuilder();
    for (let i = 0; i < present.length; i += PAGE) {
      const page = Array.from(present.subarray(i, i + PAGE));
      const got = await this.tree.leafHashesAt(tenantId, page);
      if (got.length !== page.length) throw refused();
      got.sort((x, y) => x.index - y.index);
      for (const l of got) tree.add(l.hash);
    }
    const first = present.length > 0 ? present[0] : null;
    const last = present.length > 0 ? present[present.length - 1] : null;
    let c = await this.tree.checkpoint(tenantId);
    if (c === null || c.size <= (last ?? -1)) {
      await this.createCheckpoint(tenantId, 'archive');
      c = (await this.tree.checkpoint(tenantId))!;
    }
    return {
      leaf_encoding: 'v1',
      leaf_count: present.length,
      missing: indices.length - present.length,
      first_leaf_index: first,
      last_leaf_index: last,
      leaves_root: tree.root().toString('base64'),
      leaf_indices: encodeLeafIndices(indices),
      checkpoint: { origin: this.originOf(tenantId), tree_size: c.size, root_hash: c.rootHash.toString('base64') },
    };
  }

  async consistency(tenantId: string, from: number, to: number): Promise<ConsistencyView> {
    if (from > to) throw new ValidationError('from must not be larger than to', [{ field: 'from', message: 'must be at most to' }]);
    const size = await this.tree.size(tenantId);
    if (to > size)
      throw new ValidationError(`to is beyond the tree (${size} events)`, [{ field: 'to', message: `must be at most ${size}` }]);
    const [proof, fromRoot, toRoot] = await this.tree.compute(tenantId, (n) => [
      consistencyProof(n, from, to),
      rootHash(n, from),
      rootHash(n, to),
    ]);
    const [a, b] = await Promise.all([this.tree.checkpoint(tenantId, from), this.tree.checkpoint(tenantId, to)]);
    const origin = this.originOf(tenantId);
    return {
      from,
      to,
      proof: (proof as Buffer[]).map((h) => h.toString('base64')),
      from_checkpoint: a && view(a, origin),
      to_checkpoint: b && view(b, origin),
      from_root: (fromRoot as Buffer).toString('base64'),
      to_root: (toRoot as Buffer).toString('base64'),
    };
  }

  /**
   * Recomputes every leaf from the query store and compares: an event whose leaf hash changed is modified,
   * a leaf with no event removed, an event the tree never saw (at a log position the tree has passed)
   * inserted, an event found at another log position than the one it was consumed at reordered. A leaf whose
   * event a retention policy removed (below the minimum index, or recorded by id) is pruned: expected.
   */
  async verify(tenantId: string, range: VerifyRange): Promise<VerifyReport> {
    const leaves = await this.tree.leaves(tenantId, range.fromUs, range.toUs);
    const events = new Map<string, StoredAuditEvent>();
    const query = this.options.query();
    // Keyset pages by (timestamp, id): each page is one indexed read from where the last one ended (offset
    // pages re-scanned everything before them, which made a whole-tenant verify quadratic).
    const filter = { categories: [], eventTypes: [], severities: [], metadata: [], fromUs: range.fromUs, toUs: range.toUs };
    for (let after: RangeCursor | null = null; ;) {
      const page = await query.range(tenantId, filter, after, PAGE);
      for (const e of page) events.set(e.id, e);
      if (page.length < PAGE) break;
      const last = page[page.length - 1];
      after = { timestamp: last.timestamp, id: last.id };
    }
    const modified: Finding[] = [];
    const removed: Finding[] = [];
    const inserted: Finding[] = [];
    const reordered: Finding[] = [];
    const add = (list: Finding[], f: Finding) => {
      if (list.length < MAX_FINDINGS) list.push(f);
    };
    // How far each side has read each partition: the two consumers run at their own pace, so an event one
    // side has not reached yet is pending, not a finding.
    const reached = highest(leaves.map((l) => ({ partition: l.partition, offset: l.offset })));
    const projected = highest([...events.values()].flatMap((e) => (e.position ? [e.position] : [])));
    const inTree = new Set<string>();
    const missing: StoredLeaf[] = [];
    const moved: Array<{ leaf: StoredLeaf; at: { partition: number; offset: string } }> = [];
    let pending = 0;
    for (const leaf of leaves) {
      inTree.add(leaf.eventId);
      const e = events.get(leaf.eventId);
      if (e === undefined) {
        missing.push(leaf);
        continue;
      }
      if (!leafHashOf(e).equals(leaf.leafHash)) add(modified, { id: leaf.eventId, leaf_index: leaf.index });
      const at = e.position;
      if (at !== undefined && (at.partition !== leaf.partition || at.offset !== leaf.offset)) moved.push({ leaf, at });
    }
    const minIndex = await this.options.pruning.minIndex(tenantId);
    const byPolicy = await this.options.pruning.removedAmong(
      tenantId,
      [...missing, ...moved.map((m) => m.leaf)].filter((l) => l.index >= minIndex).map((l) => l.eventId),
    );
    // An event a policy removed that is in the store again came back from its archive (a restore re-appends it
    // to the log, so it sits at a new position): expected, and its leaf hash was still checked above.
    let restored = 0;
    for (const { leaf, at } of moved) {
      if (leaf.index < minIndex || byPolicy.has(leaf.eventId)) restored++;
      else
        add(reordered, {
          id: leaf.eventId,
          leaf_index: leaf.index,
          detail: `consumed at ${leaf.partition}/${leaf.offset}, stored at ${at.partition}/${at.offset}`,
        });
    }
    let pruned = 0;
    for (const leaf of missing) {
      if (leaf.index < minIndex || byPolicy.has(leaf.eventId)) {
        pruned++;
        continue;
      }
      const limit = projected.get(leaf.partition);
      if (limit === undefined || BigInt(leaf.offset) > limit) pending++;
      else add(removed, { id: leaf.eventId, leaf_index: leaf.index });
    }
    const unknown = [...events.values()].filter((e) => !inTree.has(e.id));
    // Outside a time range, an event may be in the tree with another timestamp (then it is modified, above).
    const known = await this.tree.knownIds(
      tenantId,
      unknown.map((e) => e.id),
    );
    for (const e of unknown) {
      if (known.has(e.id)) continue;
      const limit = e.position ? reached.get(e.position.partition) : undefined;
      if (e.position !== undefined && (limit === undefined || BigInt(e.position.offset) > limit)) pending++;
      else add(inserted, { id: e.id, detail: e.position ? `at ${e.position.partition}/${e.position.offset}` : undefined });
    }
    const checkpointRootMatches = await this.rootCheck(tenantId, leaves, range);
    const ok = modified.length + removed.length + inserted.length + reordered.length === 0 && checkpointRootMatches !== false;
    const report: VerifyReport = {
      tenant_id: tenantId,
      from: range.fromUs === undefined ? null : formatMicros(range.fromUs),
      to: range.toUs === undefined ? null : formatMicros(range.toUs),
      ok,
      leaves_checked: leaves.length,
      events_checked: events.size,
      modified,
      removed,
      inserted,
      reordered,
      pending,
      checkpoint_root_matches: checkpointRootMatches,
      pruned,
      restored,
      min_index: minIndex,
    };
    if (!ok) {
      this.options.logger.error(
        { tenant: tenantId, modified: modified.length, removed: removed.length, inserted: inserted.length, reordered: reordered.length },
        'integrity verification found a mismatch',
      );
      await this.emit(tenantId, {
        event_type: MISMATCH_EVENT_TYPE,
        category: 'security_events',
        severity: 'critical',
        description: 'Integrity verification found events modified, removed, inserted or reordered in the store',
        metadata: {
          modified: modified.length,
          removed: removed.length,
          inserted: inserted.length,
          reordered: reordered.length,
          checkpoint_root_matches: checkpointRootMatches,
          first_ids: [...modified, ...removed, ...inserted, ...reordered].slice(0, 20).map((f) => f.id),
        },
      });
    }
    return report;
  }

  /** With the whole tree in range, the stored leaf hashes must still give the latest checkpoint's root. */
  private async rootCheck(tenantId: string, leaves: StoredLeaf[], range: VerifyRange): Promise<boolean | null> {
    if (range.fromUs !== undefined || range.toUs !== undefined) return null;
    const c = await this.tree.checkpoint(tenantId);
    if (c === null || leaves.length < c.size) return c === null ? null : false;
    const hashes = leaves.slice(0, c.size).map((l) => l.leafHash);
    return rootHash(memoryTree(hashes), c.size).equals(c.rootHash);
  }

  async recordPolicyRemoval(tenantId: string, removal: PolicyRemoval): Promise<PolicyRemovalView> {
    const recorded = await this.options.pruning.record(tenantId, removal);
    return { recorded, min_index: await this.options.pruning.raiseMinIndex(tenantId) };
  }

  private async emit(tenantId: string, event: Record<string, unknown>): Promise<void> {
    try {
      await this.options.ingest().ingest({ events: [{ ...event, source: 'homepot-audit' }], batch: false, tenantId });
    } catch (e) {
      // The checkpoint is stored and signed either way; its event is a copy on the log.
      this.options.logger.warn(
        { err: (e as Error).message, tenant: tenantId, event_type: event.event_type },
        'could not write an integrity audit event',
      );
    }
  }

  async health(): Promise<ComponentHealth> {
    return { ok: true };
  }
}
