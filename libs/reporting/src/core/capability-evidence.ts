import { createHash } from 'node:crypto';
import { formatMicros } from '@app/contracts';
import type { CheckpointView } from '@app/integrity';
import { type ArchiveManifest, parsePeriod, subtractPeriod } from '@app/retention';

/**
 * What a report read from another capability: its answer, or why there is none. `off`: named in
 * AUDIT_CAPABILITIES_OFF; `unavailable`: it did not answer (the reason says what failed).
 */
export type Reading<T> = { state: 'ok'; value: T } | { state: 'off' } | { state: 'unavailable'; reason: string };

/** The retention capability's answers a report uses: the policy in force (RetentionPort.policyInForce) and the tenant's archives. */
export interface RetentionAnswers {
  view: Record<string, unknown>;
  archives: ArchiveManifest[];
}

/**
 * The retention in force for the report's categories, as its controls see it: the shortest that applies, in
 * days at `at`, or why it is not known (controlStatus makes that insufficient data).
 */
export type RetentionStanding = { days: number; at: Date } | { missing: string };

/** Archives listed per report: the count and totals cover all of them. */
export const MAX_ARCHIVES_LISTED = 100;

/** A calendar period's length in days, ending at `at` (P1Y is 365 or 366 days depending on when). */
export function periodDays(period: string, at: Date): number | undefined {
  const p = parsePeriod(period);
  return p ? Math.round((at.getTime() - subtractPeriod(at, p).getTime()) / 86_400_000) : undefined;
}

const readingText = (r: Reading<unknown>): string =>
  r.state === 'off' ? 'capability off' : r.state === 'unavailable' ? `unavailable: ${r.reason}` : 'ok';

interface StoredRule {
  retention_period?: unknown;
}

/**
 * The report's retention section and the standing its retention controls are computed from. The stored
 * policy (policyToJson's form) always has retention_period; a category override applies to its category.
 * With no categories (all), every override counts: the shortest rule is what an auditor must rely on.
 */
export function retentionEvidence(
  reading: Reading<RetentionAnswers>,
  scope: { categories: string[]; fromUs?: number; toUs?: number },
  at: Date,
): { section: Record<string, unknown>; standing: RetentionStanding } {
  if (reading.state !== 'ok') {
    const text = readingText(reading);
    return { section: { state: text }, standing: { missing: text } };
  }
  const policy = reading.value.view.policy as (StoredRule & { categories?: Record<string, StoredRule> }) | null;
  const archives = archivesInPeriod(reading.value.archives, scope);
  if (!policy) {
    return { section: { state: 'no policy set', policy: null, archives }, standing: { missing: 'no policy set for this tenant' } };
  }
  const daysOf = (r: StoredRule | undefined): number | undefined =>
    typeof r?.retention_period === 'string' ? periodDays(r.retention_period, at) : undefined;
  const overrides = policy.categories ?? {};
  const rules: Record<string, number | undefined> =
    scope.categories.length === 0
      ? { default: daysOf(policy), ...Object.fromEntries(Object.entries(overrides).map(([c, r]) => [c, daysOf(r)])) }
      : Object.fromEntries(scope.categories.map((c) => [c, daysOf(overrides[c] ?? policy)]));
  const known = Object.values(rules).filter((d): d is number => d !== undefined);
  const section = {
    state: 'in force',
    policy,
    updated_at: reading.value.view.updated_at ?? null,
    updated_by: reading.value.view.updated_by ?? null,
    days_by_category: rules,
    effective_days: known.length > 0 ? Math.min(...known) : null,
    archives,
  };
  return {
    section,
    standing: known.length > 0 ? { days: Math.min(...known), at } : { missing: 'the stored policy has no retention period' },
  };
}

function archivesInPeriod(
  all: ArchiveManifest[],
  scope: { categories: string[]; fromUs?: number; toUs?: number },
): Record<string, unknown> {
  const from = scope.fromUs !== undefined ? formatMicros(scope.fromUs).slice(0, 10) : undefined;
  const to = scope.toUs !== undefined ? formatMicros(scope.toUs).slice(0, 10) : undefined;
  const covering = all
    .filter((a) => (from === undefined || a.day >= from) && (to === undefined || a.day <= to))
    .filter((a) => scope.categories.length === 0 || scope.categories.includes(a.category))
    .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.category < b.category ? -1 : 1));
  return {
    count: covering.length,
    events: covering.reduce((n, a) => n + a.event_count, 0),
    first_day: covering[0]?.day ?? null,
    last_day: covering.at(-1)?.day ?? null,
    listed: covering.slice(0, MAX_ARCHIVES_LISTED).map((a) => ({
      id: a.id,
      category: a.category,
      day: a.day,
      event_count: a.event_count,
      object_sha256: a.object_sha256,
    })),
  };
}

/** The tenant's latest signed checkpoint as a report or a manifest cites it; null: none signed yet. */
export type CheckpointReading = Reading<CheckpointView | null>;

/** The checkpoint as a manifest carries it: the note's hash stands for the note (GET /audit/integrity/checkpoint has it). */
export function manifestCheckpoint(reading: CheckpointReading): Record<string, unknown> | null {
  if (reading.state !== 'ok' || reading.value === null) return null;
  const c = reading.value;
  return {
    origin: c.origin,
    tree_size: c.tree_size,
    root_hash: c.root_hash,
    created_at: c.created_at,
    note_sha256: createHash('sha256').update(c.note).digest('hex'),
  };
}

/** The report's integrity section: the latest checkpoint, or why there is none. */
export function integrityEvidence(reading: CheckpointReading): Record<string, unknown> {
  if (reading.state !== 'ok') return { state: readingText(reading) };
  if (reading.value === null) return { state: 'no checkpoint signed yet' };
  return { state: 'signed', latest_checkpoint: { ...manifestCheckpoint(reading), note: reading.value.note } };
}

/** Why a manifest's integrity_checkpoint is null (absent when it is set). */
export function checkpointAbsence(reading: CheckpointReading): string | undefined {
  if (reading.state !== 'ok') return readingText(reading);
  return reading.value === null ? 'no checkpoint signed yet' : undefined;
}
