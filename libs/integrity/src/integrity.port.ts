import { ValidationError } from '@app/contracts';
import { ComponentHealth, definePort, serviceAddress } from '@app/runtime';
import type { LeafEncoding } from './core';
import { decodeLeafIndices, encodeLeafIndices } from './core/leaf-indices';

export interface PublicKeyView {
  algorithm: 'ed25519';
  key_name: string;
  /** C2SP verifier key: `<name>+<key id>+<base64(0x01 ‖ key)>` (Go's golang.org/x/mod/sumdb/note reads it). */
  verifier_key: string;
  public_key_pem: string;
  /** Checkpoint origins: `<key name>/<tenant>`. */
  origin_prefix: string;
}

export interface CheckpointView {
  origin: string;
  tree_size: number;
  root_hash: string;
  /** The C2SP signed note, verbatim: what an auditor keeps. */
  note: string;
  reason: string;
  created_at: string;
}

export interface InclusionProofView {
  event_id: string;
  leaf_index: number;
  leaf_hash: string;
  /**
   * The leaf bytes' encoding: v2 for an event with a `sequence`, else v1 (docs/api.md); null when the event is
   * no longer in the query store (removed by policy: whoever holds a copy picks by its sequence).
   */
  leaf_encoding: LeafEncoding | null;
  tree_size: number;
  root_hash: string;
  proof: string[];
  checkpoint: CheckpointView;
}

export interface ConsistencyView {
  from: number;
  to: number;
  proof: string[];
  from_checkpoint: CheckpointView | null;
  to_checkpoint: CheckpointView | null;
  from_root: string;
  to_root: string;
}

export interface Finding {
  id: string;
  leaf_index?: number;
  detail?: string;
}

export interface VerifyReport {
  tenant_id: string;
  from: string | null;
  to: string | null;
  ok: boolean;
  leaves_checked: number;
  events_checked: number;
  modified: Finding[];
  removed: Finding[];
  inserted: Finding[];
  reordered: Finding[];
  /**
   * Beyond what the other side has read yet (the tree's consumer or the query store's): not a finding. The
   * newest event of a partition deleted from the store reads as pending until another event follows it.
   */
  pending: number;
  /** The stored leaves still hash to the latest checkpoint's root (only when the whole tree was in range). */
  checkpoint_root_matches: boolean | null;
  /** Leaves whose event a retention policy removed from the store: expected absences, not findings. */
  pruned: number;
  /**
   * Leaves whose event a policy removed and that are in the store again, restored from their archive (not
   * counted in `pruned`): a restore re-appends an event to the
   * log, so it sits at a new position (not counted reordered); its leaf hash is checked like any other.
   */
  restored: number;
  /** Every leaf below this index was removed by policy (C2SP tlog-tiles' minimum index); 0 before any. */
  min_index: number;
}

/** Events of one category-day that retention is about to remove from the query store (in pages of ids). */
export interface PolicyRemoval {
  category: string;
  /** The UTC day, YYYY-MM-DD. */
  day: string;
  /** `deleted`: past retention; `offloaded`: archived, then removed from the hot store. */
  reason: 'deleted' | 'offloaded';
  ids: string[];
}

export interface PolicyRemovalView {
  /** Ids not recorded before (a redone run records nothing twice). */
  recorded: number;
  min_index: number;
}

export interface VerifyRange {
  fromUs?: number;
  toUs?: number;
}

/**
 * The integrity capability's view of an archive (retention's manifest): which leaves its events are, the
 * Merkle tree hash over their leaf hashes in leaf order, and the signed checkpoint that covers them.
 */
export interface ArchiveLeavesView {
  leaf_encoding: 'v1';
  /** Events of the archive with a leaf in the tree; `missing`: those without (not in the tree). */
  leaf_count: number;
  missing: number;
  first_leaf_index: number | null;
  last_leaf_index: number | null;
  /** Base64 RFC 6962 tree hash over the leaves' hashes, ordered by leaf index (see subsetRoot). */
  leaves_root: string;
  /** Each archive line's leaf index (−1: none), in the archive's line order (encodeLeafIndices). */
  leaf_indices: string;
  /** The checkpoint it was taken against: every leaf above is below its tree size. */
  checkpoint: { origin: string; tree_size: number; root_hash: string };
}

/** Most ids (or indices) per leafIndices call: one archive page. */
export const LEAF_LOOKUP_MAX = 20_000;

/** The integrity capability as the API sees it: in-process in the embedded app, over TCP in the gateway. */
export interface IntegrityPort {
  publicKey(): Promise<PublicKeyView>;
  latestCheckpoint(tenantId: string): Promise<CheckpointView>;
  createCheckpoint(tenantId: string, reason: string): Promise<CheckpointView>;
  proof(tenantId: string, eventId: string): Promise<InclusionProofView>;
  consistency(tenantId: string, from: number, to: number): Promise<ConsistencyView>;
  verify(tenantId: string, range: VerifyRange): Promise<VerifyReport>;
  /** Retention only, before it removes the events: verification then expects them absent. */
  recordPolicyRemoval(tenantId: string, removal: PolicyRemoval): Promise<PolicyRemovalView>;
  /** Each event's leaf index, in the order given; −1 where the tree has no leaf for the id. */
  leafIndices(tenantId: string, eventIds: string[]): Promise<number[]>;
  /**
   * An archive's view from its events' leaf indices in line order (from leafIndices): the tree hash over those
   * leaves in leaf order, against the latest checkpoint (signed now when it does not cover them yet).
   */
  archiveLeaves(tenantId: string, indices: number[]): Promise<ArchiveLeavesView>;
  health(): Promise<ComponentHealth>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function field<T>(m: unknown, name: string, ok: (v: unknown) => boolean, message: string): T {
  if (!isObject(m)) throw new ValidationError('malformed integrity request', [{ field: '/', message: 'must be an object' }]);
  const v = m[name];
  if (!ok(v)) throw new ValidationError(`malformed integrity request: ${name} ${message}`, [{ field: name, message }]);
  return v as T;
}

const tenant = (m: unknown) => field<string>(m, 'tenantId', (v) => typeof v === 'string' && v !== '', 'must be a non-empty string');
const size = (m: unknown, name: string) =>
  field<number>(m, name, (v) => Number.isSafeInteger(v) && (v as number) >= 0, 'must be a non-negative integer');
const optionalMicros = (m: unknown, name: string) =>
  field<number | undefined>(m, name, (v) => v === undefined || v === null || Number.isSafeInteger(v), 'must be an integer') ?? undefined;

/** The most ids one call carries: retention sends a category-day in pages of this size. */
export const POLICY_REMOVAL_MAX_IDS = 10_000;

function policyRemoval(m: unknown): PolicyRemoval {
  const text = (name: string, re: RegExp, message: string) => field<string>(m, name, (v) => typeof v === 'string' && re.test(v), message);
  return {
    category: text('category', /^[a-z][a-z0-9_]{0,63}$/, 'must be a category name'),
    day: text('day', /^\d{4}-\d{2}-\d{2}$/, 'must be a UTC day (YYYY-MM-DD)'),
    reason: text('reason', /^(deleted|offloaded)$/, "must be 'deleted' or 'offloaded'") as PolicyRemoval['reason'],
    ids: field<string[]>(
      m,
      'ids',
      (v) => Array.isArray(v) && v.length <= POLICY_REMOVAL_MAX_IDS && v.every((x) => typeof x === 'string' && x !== '' && x.length <= 64),
      `must be an array of at most ${POLICY_REMOVAL_MAX_IDS} event ids`,
    ),
  };
}

/** The integrity service checks what the gateway sends: it is reachable on the network. */
export const INTEGRITY_PORT_DEFINITION = definePort<IntegrityPort>({
  name: 'integrity',
  service: 'integrity',
  address: serviceAddress('INTEGRITY', 4007),
  methods: {
    publicKey: { pattern: 'audit.integrity.public-key', deadline: 'queryMs', encode: () => ({}), decode: () => [] },
    latestCheckpoint: {
      pattern: 'audit.integrity.checkpoint',
      deadline: 'queryMs',
      encode: (tenantId) => ({ tenantId }),
      decode: (m) => [tenant(m)],
    },
    createCheckpoint: {
      pattern: 'audit.integrity.create-checkpoint',
      deadline: 'queryMs',
      encode: (tenantId, reason) => ({ tenantId, reason }),
      decode: (m) => [
        tenant(m),
        field<string>(m, 'reason', (v) => typeof v === 'string' && /^[a-z_]{1,32}$/.test(v), 'must be a reason word'),
      ],
    },
    proof: {
      pattern: 'audit.integrity.proof',
      deadline: 'queryMs',
      encode: (tenantId, eventId) => ({ tenantId, eventId }),
      decode: (m) => [tenant(m), field<string>(m, 'eventId', (v) => typeof v === 'string', 'must be a string')],
    },
    consistency: {
      pattern: 'audit.integrity.consistency',
      deadline: 'queryMs',
      encode: (tenantId, from, to) => ({ tenantId, from, to }),
      decode: (m) => [tenant(m), size(m, 'from'), size(m, 'to')],
    },
    verify: {
      pattern: 'audit.integrity.verify',
      deadline: 'queryMs',
      encode: (tenantId, range) => ({ tenantId, fromUs: range.fromUs, toUs: range.toUs }),
      decode: (m) => [tenant(m), { fromUs: optionalMicros(m, 'fromUs'), toUs: optionalMicros(m, 'toUs') }],
    },
    recordPolicyRemoval: {
      pattern: 'audit.integrity.record-policy-removal',
      deadline: 'queryMs',
      encode: (tenantId, removal) => ({ tenantId, removal }),
      decode: (m) => [tenant(m), policyRemoval(field<unknown>(m, 'removal', isObject, 'must be an object'))],
    },
    leafIndices: {
      pattern: 'audit.integrity.leaf-indices',
      deadline: 'queryMs',
      encode: (tenantId, eventIds) => ({ tenantId, eventIds }),
      decode: (m) => [
        tenant(m),
        field<string[]>(
          m,
          'eventIds',
          (v) => Array.isArray(v) && v.length <= LEAF_LOOKUP_MAX && v.every((x) => typeof x === 'string'),
          `must be a list of up to ${LEAF_LOOKUP_MAX} ids`,
        ),
      ],
    },
    archiveLeaves: {
      pattern: 'audit.integrity.archive-leaves',
      deadline: 'queryMs',
      // A whole archive's indices: a day of one category, bounded by what a category-day holds.
      encode: (tenantId, indices) => ({ tenantId, indices: encodeLeafIndices(indices) }),
      decode: (m) => [
        tenant(m),
        decodeLeafIndices(field<string>(m, 'indices', (v) => typeof v === 'string', 'must be encoded leaf indices')),
      ],
    },
    health: { pattern: 'audit.integrity.health', deadline: 'healthMs', encode: () => ({}), decode: () => [] },
  },
});

export const INTEGRITY_PORT = INTEGRITY_PORT_DEFINITION.token;
