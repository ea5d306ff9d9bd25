import { performance } from 'node:perf_hooks';
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
  StreamingRoot,
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

const roundAll = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));

/** Keeps the highest offset seen per partition. */
function raise(highest: Map<number, bigint>, partition: number, offset: bigint): void {
  const prev = highest.get(partition);
  if (prev === undefined || offset > prev) highest.set(partition, offset);
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
  /** Events, and leaves, per page of a verification (default 5,000). */
  verifyPage?: number;
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
   *
   * Two streamed passes, so memory holds a page, not the range: the store's events in (timestamp, id)
   * pages, each page's leaves looked up by id and compared, with a bit set per leaf index met; then the
   * tree's leaves in index order, where a leaf whose bit is unset has no event in the store. The walk covers
   * the tree as it was when verification began (its size then); the tree growing meanwhile is pending.
   * Memory: one bit per leaf of the tree (10 million leaves, 1.25 MB), a page, the findings (at most
   * MAX_FINDINGS of each kind) and a few numbers per log partition.
   */
  async verify(tenantId: string, range: VerifyRange): Promise<VerifyReport> {
    const page = this.options.verifyPage ?? PAGE;
    const started = performance.now();
    const took = { reached: 0, store: 0, lookups: 0, tree: 0 };
    const timed = async <T>(phase: keyof typeof took, work: Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await work;
      } finally {
        took[phase] += performance.now() - t0;
      }
    };
    const whole = range.fromUs === undefined && range.toUs === undefined;
    // The checkpoint first: the size read after it is at least the checkpoint's.
    const checkpoint = whole ? await this.tree.checkpoint(tenantId) : null;
    const size = await this.tree.size(tenantId);
    let minIndex = await this.options.pruning.minIndex(tenantId);
    // How far each side has read each partition: the two consumers run at their own pace, so an event one
    // side has not reached yet is pending, not a finding.
    const reached = await timed('reached', this.tree.reached(tenantId, range.fromUs, range.toUs, size));
    const projected = new Map<number, bigint>();
    const met = new Uint8Array(Math.ceil(size / 8));
    const findings = { modified: [] as Finding[], removed: [] as Finding[], inserted: [] as Finding[], reordered: [] as Finding[] };
    const add = (kind: keyof typeof findings, f: Finding) => {
      if (findings[kind].length < MAX_FINDINGS) findings[kind].push(f);
    };
    let pending = 0;
    let pruned = 0;
    let restored = 0;
    let eventsChecked = 0;
    // Which of these leaves a policy removal accounts for: recorded by id, or below the minimum index. A
    // retention run may go on meanwhile (it records a day's ids, raises the minimum index, which drops the
    // records below it, then deletes the events): the records are read first and the index after, so an
    // event deleted by a run is covered by one or the other. The index only rises.
    const byPolicy = async (leaves: StoredLeaf[]): Promise<(leaf: StoredLeaf) => boolean> => {
      if (leaves.length === 0) return () => false;
      const recorded = await this.options.pruning.removedAmong(
        tenantId,
        leaves.map((l) => l.eventId),
      );
      minIndex = await this.options.pruning.minIndex(tenantId);
      const below = minIndex;
      return (leaf) => leaf.index < below || recorded.has(leaf.eventId);
    };
    const isMet = (i: number) => (met[Math.floor(i / 8)] & (1 << (i % 8))) !== 0;
    type Moved = { leaf: StoredLeaf; at: { partition: number; offset: string } };
    // An event of the store against its leaf: the hash, and where it sits on the log.
    const compare = (e: StoredAuditEvent, leaf: StoredLeaf, moved: Moved[]): void => {
      if (leaf.index < size) met[Math.floor(leaf.index / 8)] |= 1 << (leaf.index % 8);
      // Outside a time range, an event may be in the tree with another timestamp: its hash differs.
      if (!leafHashOf(e).equals(leaf.leafHash)) add('modified', { id: leaf.eventId, leaf_index: leaf.index });
      const at = e.position;
      if (at !== undefined && (at.partition !== leaf.partition || at.offset !== leaf.offset)) moved.push({ leaf, at });
    };
    // An event a policy removed that is in the store again came back from its archive (a restore re-appends
    // it to the log, so it sits at a new position): expected, and its leaf hash was still checked.
    const placed = async (moved: Moved[]): Promise<void> => {
      const removedBefore = await byPolicy(moved.map((m) => m.leaf));
      for (const { leaf, at } of moved) {
        if (removedBefore(leaf)) restored++;
        else
          add('reordered', {
            id: leaf.eventId,
            leaf_index: leaf.index,
            detail: `consumed at ${leaf.partition}/${leaf.offset}, stored at ${at.partition}/${at.offset}`,
          });
      }
    };

    // Pass 1: the store's events. Keyset pages by (timestamp, id): each page is one indexed read from where
    // the last one ended.
    const query = this.options.query();
    const filter = { categories: [], eventTypes: [], severities: [], metadata: [], fromUs: range.fromUs, toUs: range.toUs };
    let previousId = '';
    for (let after: RangeCursor | null = null; ;) {
      const events: StoredAuditEvent[] = await timed('store', query.range(tenantId, filter, after, page));
      const leaves = await timed(
        'lookups',
        this.tree.leavesByIds(
          tenantId,
          events.map((e) => e.id),
        ),
      );
      const moved: Moved[] = [];
      for (const e of events) {
        // The store may return a redelivered copy until its next merge: adjacent in (timestamp, id) order.
        if (e.id === previousId) continue;
        previousId = e.id;
        eventsChecked++;
        const at = e.position;
        if (at !== undefined) raise(projected, at.partition, BigInt(at.offset));
        const leaf = leaves.get(e.id);
        if (leaf === undefined) {
          // Not in the tree at all: inserted, unless the tree has not consumed that far yet.
          const limit = at ? reached.get(at.partition) : undefined;
          if (at !== undefined && (limit === undefined || BigInt(at.offset) > limit)) pending++;
          else add('inserted', { id: e.id, detail: at ? `at ${at.partition}/${at.offset}` : undefined });
          continue;
        }
        compare(e, leaf, moved);
      }
      await placed(moved);
      if (events.length < page) break;
      const last = events[events.length - 1];
      after = { timestamp: last.timestamp, id: last.id };
    }

    // Pass 2: the tree's leaves in the range, in index order; with the whole tree, the stored leaf hashes
    // are folded into the root the latest checkpoint signed.
    const root = new StreamingRoot();
    let leavesChecked = 0;
    // A time range walks only the indices its leaves span (late events, appended after younger ones, widen it).
    const span = whole
      ? { first: 0, last: size - 1 }
      : await timed('tree', this.tree.leafIndexSpan(tenantId, range.fromUs, range.toUs, size));
    const lastIndex = span?.last ?? -1;
    for (let after = (span?.first ?? 0) - 1; after < lastIndex; after += page) {
      const through = Math.min(after + page, lastIndex);
      const leaves = await timed('tree', this.tree.leafPage(tenantId, { ...range, afterIndex: after, throughIndex: through }));
      leavesChecked += leaves.length;
      const missing: StoredLeaf[] = [];
      for (const leaf of leaves) {
        // Indices below the checkpoint's size are unique (the primary key): fewer than its size is a gap.
        if (checkpoint !== null && leaf.index < checkpoint.size) root.push(leaf.leafHash);
        if (!isMet(leaf.index)) missing.push(leaf);
      }
      const removedBefore = await byPolicy(missing);
      const late: Moved[] = [];
      for (const leaf of missing) {
        if (removedBefore(leaf)) {
          pruned++;
          continue;
        }
        const limit = projected.get(leaf.partition);
        if (limit === undefined || BigInt(leaf.offset) > limit) {
          pending++;
          continue;
        }
        // Past what pass 1 saw projected on its partition, but the store projects each partition in log order,
        // not in timestamp order: an event with an older timestamp can land behind pass 1's cursor after it
        // passed. Asked for by id before it is named (at most as many lookups as removals are listed).
        if (findings.removed.length >= MAX_FINDINGS) continue;
        const e = await timed('store', query.findById(tenantId, leaf.eventId));
        if (e === null) add('removed', { id: leaf.eventId, leaf_index: leaf.index });
        else {
          eventsChecked++;
          compare(e, leaf, late);
        }
      }
      await placed(late);
    }
    // With the whole tree in range, the stored leaf hashes must still give the latest checkpoint's root.
    const checkpointRootMatches =
      !whole || checkpoint === null ? null : root.size === checkpoint.size && root.root().equals(checkpoint.rootHash);

    const { modified, removed, inserted, reordered } = findings;
    const ok = modified.length + removed.length + inserted.length + reordered.length === 0 && checkpointRootMatches !== false;
    const report: VerifyReport = {
      tenant_id: tenantId,
      from: range.fromUs === undefined ? null : formatMicros(range.fromUs),
      to: range.toUs === undefined ? null : formatMicros(range.toUs),
      ok,
      leaves_checked: leavesChecked,
      events_checked: eventsChecked,
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
    this.options.logger.info(
      {
        tenant: tenantId,
        ok,
        leaves: leavesChecked,
        events: eventsChecked,
        ms: Math.round(performance.now() - started),
        read_ms: roundAll(took),
      },
      'integrity verification finished',
    );
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
