import { canonicalCategory } from '@app/contracts';
import { RetentionPolicy, ruleFor } from './policy';
import { subtractPeriod } from './period';

/** A legal hold: what it covers stays (online or archived) until it is released. */
export interface Hold {
  id: string;
  /** Absent: every category. */
  category?: string;
  from: Date;
  to: Date;
}

/** What the hot store holds of one tenant: events per category and UTC day (YYYY-MM-DD). */
export interface StoredDay {
  category: string;
  day: string;
  count: number;
}

/** An archive object already written: one tenant, category and UTC day. */
export interface ArchivedDay {
  id: string;
  category: string;
  day: string;
  count: number;
  /** Restored into the hot store: its hot copy stays until then (retention still applies). */
  restoredUntil?: Date;
}

export interface PlannedDay extends StoredDay {
  /** For deletions: whether an archive of that day exists (the hot copy is then only a copy). */
  archived?: boolean;
}

export interface BlockedDay extends StoredDay {
  holds: string[];
  /** Whether the blocked copy is the archive (the hot copy was archived and removed before). */
  archive?: string;
}

/** What one run should do for one tenant; each day appears in at most one of archive/delete/blocked. */
export interface RetentionPlan {
  /** Due for archive and not archived yet: write, read back and check, then remove from the hot store. */
  archive: PlannedDay[];
  /** Archived already and past archive_after, still in the hot store: remove the hot copy (the archive stays). */
  offload: PlannedDay[];
  /** Past retention, no hold: remove from the hot store. */
  delete: PlannedDay[];
  /** Archives past retention with no hold: delete the objects. */
  deleteArchives: ArchivedDay[];
  /** Past retention but held: kept whole (a held day is not split; keeping more is the safe side). */
  blocked: BlockedDay[];
  /**
   * Archived, past archive_after, but the hot store's count for the day is not the archive's: events arrived
   * late for a day already archived (or the day was offloaded and late events came after). Removing the hot
   * copy could drop events no archive holds, so the day stays online until retention deletes it as policy says.
   */
  differsFromArchive: Array<PlannedDay & { archive: string; archivedCount: number }>;
}

const DAY_MS = 86_400_000;
const dayStart = (day: string): number => Date.parse(`${day}T00:00:00.000Z`);

/**
 * The holds overlapping that category's UTC day. Stored days carry canonical categories; a hold's category is
 * canonicalised here too, since holds placed before aliases were normalised on the way in say `security`.
 */
function holdsOver(holds: Hold[], category: string, day: string): string[] {
  const start = dayStart(day);
  const end = start + DAY_MS;
  return holds
    .filter(
      (h) => (h.category === undefined || canonicalCategory(h.category) === category) && h.from.getTime() < end && h.to.getTime() >= start,
    )
    .map((h) => h.id);
}

/**
 * The plan for one tenant at `now`. A day is past a length when the whole day is (its end is at or before
 * `now` minus the length, in UTC calendar terms): the day holding the cut-off is kept whole until it passes.
 * Deterministic and pure, so a run interrupted and redone plans the same (or less) work.
 */
export function planRetention(
  policy: RetentionPolicy,
  holds: Hold[],
  now: Date,
  stored: StoredDay[],
  archived: ArchivedDay[] = [],
): RetentionPlan {
  const plan: RetentionPlan = { archive: [], offload: [], delete: [], deleteArchives: [], blocked: [], differsFromArchive: [] };
  const archivedByKey = new Map(archived.map((a) => [`${a.category}/${a.day}`, a]));
  const restoredKeys = new Set(
    archived.filter((a) => a.restoredUntil && a.restoredUntil.getTime() > now.getTime()).map((a) => `${a.category}/${a.day}`),
  );
  const past = (category: string, day: string, which: 'retention' | 'archiveAfter'): boolean => {
    const rule = ruleFor(policy, category);
    const length = rule[which];
    if (!length) return false;
    return dayStart(day) + DAY_MS <= subtractPeriod(now, length).getTime();
  };
  for (const s of [...stored].sort(byDay)) {
    if (s.count <= 0) continue;
    const archive = archivedByKey.get(`${s.category}/${s.day}`);
    const isArchived = archive !== undefined;
    if (past(s.category, s.day, 'retention')) {
      const held = holdsOver(holds, s.category, s.day);
      if (held.length > 0) plan.blocked.push({ ...s, holds: held });
      else plan.delete.push({ ...s, archived: isArchived });
    } else if (past(s.category, s.day, 'archiveAfter')) {
      if (archive) {
        if (restoredKeys.has(`${s.category}/${s.day}`)) continue;
        if (s.count === archive.count) plan.offload.push({ ...s, archived: true });
        else plan.differsFromArchive.push({ ...s, archived: true, archive: archive.id, archivedCount: archive.count });
      } else plan.archive.push({ ...s });
    }
  }
  for (const a of [...archived].sort(byDay)) {
    if (!past(a.category, a.day, 'retention')) continue;
    const held = holdsOver(holds, a.category, a.day);
    if (held.length > 0) plan.blocked.push({ category: a.category, day: a.day, count: a.count, holds: held, archive: a.id });
    else plan.deleteArchives.push(a);
  }
  return plan;
}

function byDay(a: { day: string; category: string }, b: { day: string; category: string }): number {
  return a.day < b.day ? -1 : a.day > b.day ? 1 : a.category < b.category ? -1 : a.category > b.category ? 1 : 0;
}

/** Counts and range of a list of days, as a dry run shows them. */
export interface DaySummary {
  events: number;
  days: number;
  from: string | null;
  to: string | null;
}

export function summarize(items: Array<{ day: string; count: number }>): DaySummary {
  const sorted = items.map((i) => i.day).sort();
  return {
    events: items.reduce((n, i) => n + i.count, 0),
    days: new Set(sorted).size,
    from: sorted[0] ?? null,
    to: sorted[sorted.length - 1] ?? null,
  };
}

/** What a policy change would do now that the policy in force would not: empty means it is safe to apply at once. */
export interface ChangeImpact {
  archive: DaySummary;
  delete: DaySummary;
  /** Archive objects it would delete: for days already offloaded these are the only copy. */
  delete_archives: DaySummary;
  destructive: boolean;
}

export function changeImpact(
  current: RetentionPolicy | undefined,
  next: RetentionPolicy,
  holds: Hold[],
  now: Date,
  stored: StoredDay[],
  // Required, not defaulted: a dry run that does not see the archives calls a change that deletes them harmless.
  archived: ArchivedDay[],
): ChangeImpact {
  const after = planRetention(next, holds, now, stored, archived);
  const before = current
    ? planRetention(current, holds, now, stored, archived)
    : { archive: [], offload: [], delete: [], deleteArchives: [], blocked: [], differsFromArchive: [] };
  const key = (d: { category: string; day: string }) => `${d.category}/${d.day}`;
  const newly = <T extends { category: string; day: string }>(a: T[], b: T[]): T[] => {
    const seen = new Set(b.map(key));
    return a.filter((x) => !seen.has(key(x)));
  };
  const archive = summarize(newly([...after.archive, ...after.offload], [...before.archive, ...before.offload]));
  const del = summarize(newly(after.delete, before.delete));
  const deleteArchives = summarize(newly(after.deleteArchives, before.deleteArchives));
  return {
    archive,
    delete: del,
    delete_archives: deleteArchives,
    destructive: archive.events + del.events + deleteArchives.events > 0,
  };
}
