import { NotFoundError, StoredAuditEvent, ValidationError } from '@app/contracts';
import type { IngestPort } from '@app/ingest';
import type { QueryPort } from '@app/query';
import {
  ArchivedDay,
  ChangeImpact,
  changeImpact,
  Hold,
  planRetention,
  policyFromJson,
  policyToJson,
  RetentionPolicy,
  RetentionPolicyInput,
  summarize,
  validatePolicy,
} from './core';
import { ArchiveManifest, ArchiveRepository } from './archive.repository';
import { ArchiveCheckError, Archiver } from './archiver';
import { LegalHoldRow, PendingChange, RetentionRepository } from './retention.repository';
import { RetentionSettings } from './retention.config';

export interface PolicyChangeResult {
  /** 'applied': in force now; 'pending': waits for `effective_at` (cancellable). */
  status: 'applied' | 'pending';
  policy: Record<string, unknown>;
  warnings: string[];
  dry_run: ChangeImpact;
  pending?: PendingView;
}

export interface PendingView {
  id: string;
  policy: Record<string, unknown>;
  dry_run: ChangeImpact;
  created_at: string;
  created_by: string;
  effective_at: string;
  status: PendingChange['status'];
}

export interface HoldView {
  id: string;
  category: string | null;
  from: string;
  to: string;
  reason: string;
  case_id: string | null;
  created_at: string;
  created_by: string;
  released_at: string | null;
  released_by: string | null;
}

export interface RunResult {
  tenant_id: string;
  started_at: string;
  archived: Array<{ id: string; category: string; day: string; events: number }>;
  /** Why nothing was archived although days were due (e.g. no recipients for an encrypted policy). */
  archive_blocked: string | null;
  /** Hot copies removed once their archive was written and checked. */
  offloaded: ReturnType<typeof summarize>;
  /** Past retention, no hold: removed from the query store. */
  deleted: ReturnType<typeof summarize>;
  /** Past retention, no hold: archive objects deleted. */
  archives_deleted: Array<{ id: string; category: string; day: string; events: number }>;
  kept_by_holds: ReturnType<typeof summarize>;
}

export interface RestoreResult {
  archive_id: string;
  category: string;
  day: string;
  events: number;
  /** Written back through ingest with their ids: the query store keeps one row per id, so a repeat adds none. */
  submitted: number;
  restored_until: string;
}

export interface HoldInput {
  category?: string;
  from: string;
  to: string;
  reason: string;
  case_id?: string;
}

const pendingView = (p: PendingChange): PendingView => ({
  id: p.id,
  policy: p.policy,
  dry_run: p.dryRun,
  created_at: p.createdAt.toISOString(),
  created_by: p.createdBy,
  effective_at: p.effectiveAt.toISOString(),
  status: p.status,
});

const holdView = (h: LegalHoldRow): HoldView => ({
  id: h.id,
  category: h.category,
  from: h.from.toISOString(),
  to: h.to.toISOString(),
  reason: h.reason,
  case_id: h.caseId,
  created_at: h.createdAt.toISOString(),
  created_by: h.createdBy,
  released_at: h.releasedAt?.toISOString() ?? null,
  released_by: h.releasedBy,
});

const asHold = (h: LegalHoldRow): Hold => ({ id: h.id, from: h.from, to: h.to, ...(h.category ? { category: h.category } : {}) });

const toArchivedDay = (a: ArchiveManifest): ArchivedDay => ({
  id: a.id,
  category: a.category,
  day: a.day,
  count: a.event_count,
  ...(a.restored_until ? { restoredUntil: new Date(a.restored_until) } : {}),
});

/** A stored event as ingest takes it back: its own id and times; no tenant (the request's) nor log position. */
function toInput(e: StoredAuditEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'tenant_id' || k === 'position' || v === '' || v === null || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Policies, their delayed changes and legal holds. Every change is an audit event written through ingest
 * (source homepot-audit) in the tenant it concerns; a change that would archive or delete data now waits
 * `changeDelayHours` with its dry run, so a mistaken or malicious shortening can be seen and cancelled.
 */
export class RetentionService {
  private lastRunAt: Date | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: RetentionRepository,
    private readonly query: QueryPort,
    private readonly ingest: IngestPort,
    private readonly settings: RetentionSettings,
    private readonly archives: ArchiveRepository,
    private readonly archiver: Archiver,
  ) {}

  /** One run at a time in this process: a scheduled run and an on-demand one never archive the same day twice. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.running.then(work, work);
    this.running = next.catch(() => undefined);
    return next;
  }

  /** The scheduled run: due changes, then every tenant with a policy. */
  runAll(): Promise<RunResult[]> {
    return this.serial(async () => {
      await this.applyDue();
      const out: RunResult[] = [];
      for (const t of await this.repo.tenantsWithPolicy()) out.push(await this.runTenant(t, 'retention-scheduler'));
      return out;
    });
  }

  run(tenantId: string, actor: string): Promise<RunResult> {
    return this.serial(async () => {
      await this.applyDue();
      const stored = await this.repo.policy(tenantId);
      if (!stored) throw new NotFoundError('no retention policy is set for this tenant (POST /audit/retention first)');
      return this.runTenant(tenantId, actor);
    });
  }

  /**
   * Brings an archive back into the query store: read, checked and decrypted (identity from the request, else
   * AUDIT_ARCHIVE_IDENTITY), then written through ingest with each event's own id, timestamp and fields, so the
   * query store's dedup by id keeps one copy of what is still online. The day then stays online for `ttlDays`
   * (the run does not offload it again before), and retention still deletes it when it is past retention.
   */
  restore(tenantId: string, id: string, identity: string | undefined, ttlDays: number, actor: string): Promise<RestoreResult> {
    return this.serial(async () => {
      if (!UUID.test(id)) throw new ValidationError('the archive id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
      const m = await this.archives.find(tenantId, id);
      if (!m) throw new NotFoundError(`no archive ${id}`);
      const key = identity ?? this.settings.archiveIdentity;
      if (m.recipients.length > 0 && !key) {
        throw new ValidationError('the archive is encrypted: give identity in the body or set AUDIT_ARCHIVE_IDENTITY', [
          { field: '/identity', message: 'is required for an encrypted archive (or AUDIT_ARCHIVE_IDENTITY)' },
        ]);
      }
      let events;
      try {
        events = await this.archiver.read(m, key);
      } catch (e) {
        if (e instanceof ArchiveCheckError) throw new ValidationError(e.message, [{ field: '/identity', message: e.message }]);
        throw e;
      }
      let submitted = 0;
      for (let i = 0; i < events.length; i += 1000) {
        const chunk = events.slice(i, i + 1000).map(toInput);
        const res = await this.ingest.ingest({ events: chunk, batch: true, tenantId });
        if (res.rejected > 0) throw new Error(`restore of archive ${id}: ${res.rejected} event(s) refused by ingest`);
        submitted += res.accepted + res.duplicates;
      }
      const now = this.now();
      const until = new Date(now.getTime() + ttlDays * 86_400_000);
      await this.archives.markRestored(m.id, until);
      const result: RestoreResult = {
        archive_id: m.id,
        category: m.category,
        day: m.day,
        events: events.length,
        submitted,
        restored_until: until.toISOString(),
      };
      await this.audit(tenantId, 'archive_restored', `Archive of ${m.category} ${m.day} restored into the query store`, {
        ...result,
        by: actor,
      });
      return result;
    });
  }

  listArchives(tenantId: string): Promise<ArchiveManifest[]> {
    return this.archives.list(tenantId);
  }

  /**
   * Archives the days due, each read back and checked before its manifest is recorded; then removes from the
   * query store the days archived and the days past retention, and deletes the archives past retention, except
   * what a legal hold covers. Each step is safe to redo: the plan is recomputed from what is stored.
   */
  private async runTenant(tenantId: string, actor: string): Promise<RunResult> {
    const now = this.now();
    const stored = await this.repo.policy(tenantId);
    const result: RunResult = {
      tenant_id: tenantId,
      started_at: now.toISOString(),
      archived: [],
      archive_blocked: null,
      offloaded: summarize([]),
      deleted: summarize([]),
      archives_deleted: [],
      kept_by_holds: summarize([]),
    };
    if (!stored) return result;
    const policy = policyFromJson(stored.policy, now);
    const [counts, holds, archived] = await Promise.all([
      this.query.dailyCounts(tenantId),
      this.repo.holds(tenantId),
      this.archives.list(tenantId),
    ]);
    const plan = planRetention(policy, holds.map(asHold), now, counts, archived.map(toArchivedDay));
    result.kept_by_holds = summarize(plan.blocked);
    const recipients = this.settings.archiveRecipients;
    if (plan.archive.length > 0 && policy.encryptionRequired && recipients.length === 0) {
      result.archive_blocked = 'encryption_required and AUDIT_ARCHIVE_RECIPIENTS is not set';
    } else {
      for (const d of plan.archive) {
        const m = await this.archiver.archiveDay(tenantId, d.category, d.day, {
          compress: policy.compress,
          recipients: policy.encryptionRequired || recipients.length > 0 ? recipients : [],
          policy: stored.policy,
          now,
        });
        await this.archives.save(m);
        result.archived.push({ id: m.id, category: m.category, day: m.day, events: m.event_count });
        plan.offload.push({ ...d, archived: true });
      }
    }
    // Only now, with every archive read back and recorded, does anything leave the query store.
    const manifests = new Map((await this.archives.list(tenantId)).map((a) => [`${a.category}/${a.day}`, a]));
    const offload = plan.offload.filter((d) => manifests.has(`${d.category}/${d.day}`));
    if (offload.length > 0) result.offloaded = summarize(await this.query.deleteDays(tenantId, offload));
    if (plan.delete.length > 0) result.deleted = summarize(await this.query.deleteDays(tenantId, plan.delete));
    for (const a of plan.deleteArchives) {
      const m = manifests.get(`${a.category}/${a.day}`);
      if (!m) continue;
      await this.archiver.deleteObject(m.object_key);
      await this.archives.markDeleted(m.id, now);
      result.archives_deleted.push({ id: m.id, category: m.category, day: m.day, events: m.event_count });
    }
    this.lastRunAt = now;
    await this.audit(
      tenantId,
      'retention_run',
      `Retention run: ${result.archived.length} archive(s) written, ${result.offloaded.events + result.deleted.events} event(s) removed from the query store, ${result.archives_deleted.length} archive(s) deleted`,
      {
        // Counts and ranges, not the lists: a first run over years of data must fit an event's metadata.
        archived: summarize(result.archived.map((a) => ({ day: a.day, count: a.events }))),
        offloaded: result.offloaded,
        deleted: result.deleted,
        archives_deleted: summarize(result.archives_deleted.map((a) => ({ day: a.day, count: a.events }))),
        kept_by_holds: result.kept_by_holds,
        archive_blocked: result.archive_blocked,
        by: actor,
      },
    );
    return result;
  }

  private now(): Date {
    return this.settings.now();
  }

  private async audit(tenantId: string, eventType: string, description: string, metadata: Record<string, unknown>): Promise<void> {
    const res = await this.ingest.ingest({
      events: [{ event_type: eventType, category: 'system_events', severity: 'warning', description, metadata, source: 'homepot-audit' }],
      batch: false,
      tenantId,
    });
    if (res.rejected > 0) throw new Error(`audit event ${eventType} refused: ${JSON.stringify(res)}`);
  }

  private async current(tenantId: string, now: Date): Promise<RetentionPolicy | undefined> {
    const stored = await this.repo.policy(tenantId);
    return stored ? policyFromJson(stored.policy, now) : undefined;
  }

  private archivingWarnings(policy: RetentionPolicy): string[] {
    if (policy.encryptionRequired && policy.archiveAfter && this.settings.archiveRecipients.length === 0) {
      return [
        'encryption_required is true and no archive recipient is configured: archiving is blocked until AUDIT_ARCHIVE_RECIPIENTS is set',
      ];
    }
    return [];
  }

  async setPolicy(tenantId: string, body: unknown, actor: string): Promise<PolicyChangeResult> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ValidationError('the body must be a retention policy object', [{ field: '/', message: 'must be an object' }]);
    }
    const known = [
      'retention_days',
      'retention_period',
      'archive_after_days',
      'archive_after_period',
      'compress_archives',
      'encryption_required',
      'preset',
      'categories',
    ];
    const unknown = Object.keys(body).filter((k) => !known.includes(k));
    if (unknown.length > 0) {
      throw new ValidationError(
        `unknown field ${unknown.join(', ')}`,
        unknown.map((k) => ({ field: `/${k}`, message: 'is not a known field' })),
      );
    }
    const now = this.now();
    const { policy, warnings } = validatePolicy(body as RetentionPolicyInput, now);
    warnings.push(...this.archivingWarnings(policy));
    const json = policyToJson(policy);
    const [current, stored, holds] = await Promise.all([
      this.current(tenantId, now),
      this.query.dailyCounts(tenantId),
      this.repo.holds(tenantId),
    ]);
    const dryRun = changeImpact(current, policy, holds.map(asHold), now, stored);
    const delayMs = this.settings.changeDelayHours * 3_600_000;
    if (!dryRun.destructive || delayMs === 0) {
      // The audit event first: a change that could not be recorded is not made.
      await this.audit(tenantId, 'retention_policy_changed', 'Retention policy set', {
        policy: json,
        previous: current ? policyToJson(current) : null,
        dry_run: dryRun,
        by: actor,
      });
      await this.repo.savePolicy(tenantId, json, actor, now);
      return { status: 'applied', policy: json, warnings, dry_run: dryRun };
    }
    const pending = await this.repo.addPending({
      tenantId,
      policy: json,
      dryRun,
      createdAt: now,
      createdBy: actor,
      effectiveAt: new Date(now.getTime() + delayMs),
    });
    await this.audit(tenantId, 'retention_change_scheduled', 'Retention policy change scheduled: it archives or deletes data', {
      change_id: pending.id,
      policy: json,
      dry_run: dryRun,
      effective_at: pending.effectiveAt.toISOString(),
      by: actor,
    });
    return { status: 'pending', policy: json, warnings, dry_run: dryRun, pending: pendingView(pending) };
  }

  async cancelChange(tenantId: string, id: string, actor: string): Promise<PendingView> {
    if (!UUID.test(id)) throw new ValidationError('the change id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
    const before = (await this.repo.pending(tenantId)).find((p) => p.id === id);
    if (!before || !(await this.repo.closePending(tenantId, id, 'cancelled', actor, this.now()))) {
      throw new NotFoundError(`no pending retention change ${id}`);
    }
    await this.audit(tenantId, 'retention_change_cancelled', 'Retention policy change cancelled', {
      change_id: id,
      policy: before.policy,
      by: actor,
    });
    return { ...pendingView(before), status: 'cancelled' };
  }

  /** Applies the changes whose delay passed (the scheduled run, and before a read so it shows what is in force). */
  async applyDue(): Promise<number> {
    const now = this.now();
    let applied = 0;
    for (const p of await this.repo.duePending(now)) {
      if (!(await this.repo.closePending(p.tenantId, p.id, 'applied', 'retention-scheduler', now))) continue;
      await this.repo.savePolicy(p.tenantId, p.policy, p.createdBy, now);
      await this.audit(p.tenantId, 'retention_policy_changed', 'Retention policy change applied after its delay', {
        change_id: p.id,
        policy: p.policy,
        dry_run: p.dryRun,
        by: p.createdBy,
      });
      applied++;
    }
    this.lastRunAt = now;
    return applied;
  }

  async getPolicy(tenantId: string): Promise<Record<string, unknown>> {
    await this.applyDue();
    const now = this.now();
    const [stored, pending, counts, holds, archived] = await Promise.all([
      this.repo.policy(tenantId),
      this.repo.pending(tenantId),
      this.query.dailyCounts(tenantId),
      this.repo.holds(tenantId),
      this.archives.list(tenantId),
    ]);
    const policy = stored ? policyFromJson(stored.policy, now) : undefined;
    const done = archived.map(toArchivedDay);
    const plan = policy ? planRetention(policy, holds.map(asHold), now, counts, done) : undefined;
    const online = summarize(counts);
    const nextRun = new Date(
      Math.ceil((now.getTime() + 1) / (this.settings.intervalMinutes * 60_000)) * this.settings.intervalMinutes * 60_000,
    );
    return {
      policy: stored ? stored.policy : null,
      updated_at: stored?.updatedAt.toISOString() ?? null,
      updated_by: stored?.updatedBy ?? null,
      warnings: policy ? this.archivingWarnings(policy) : [],
      pending: pending.map(pendingView),
      now: now.toISOString(),
      state: {
        // Per UTC day: the store is read by day, which is also the unit archived and deleted.
        oldest_online_day: online.from,
        events_online: online.events,
        events_due_for_archive: plan ? summarize(plan.archive).events : 0,
        events_due_for_deletion: plan ? summarize(plan.delete).events : 0,
        events_kept_by_holds: plan ? summarize(plan.blocked).events : 0,
        active_holds: holds.length,
        archives_held: archived.length,
        next_run: nextRun.toISOString(),
        last_run: this.lastRunAt?.toISOString() ?? null,
      },
      archiving: {
        recipients_configured: this.settings.archiveRecipients.length,
      },
    };
  }

  async placeHold(tenantId: string, input: HoldInput, actor: string): Promise<HoldView> {
    const from = new Date(input.from);
    const to = new Date(input.to);
    if (from.getTime() > to.getTime()) {
      throw new ValidationError('the hold ends before it starts', [{ field: '/to', message: 'must not be before from' }]);
    }
    const hold = await this.repo.addHold({
      tenantId,
      category: input.category ?? null,
      from,
      to,
      reason: input.reason,
      caseId: input.case_id ?? null,
      createdAt: this.now(),
      createdBy: actor,
    });
    const view = holdView(hold);
    await this.audit(tenantId, 'legal_hold_placed', 'Legal hold placed', { hold: view, by: actor });
    return view;
  }

  async listHolds(tenantId: string, includeReleased: boolean): Promise<HoldView[]> {
    return (await this.repo.holds(tenantId, includeReleased)).map(holdView);
  }

  async releaseHold(tenantId: string, id: string, actor: string): Promise<HoldView> {
    if (!UUID.test(id)) throw new ValidationError('the hold id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
    const released = await this.repo.releaseHold(tenantId, id, actor, this.now());
    if (!released) throw new NotFoundError(`no active legal hold ${id}`);
    const view = holdView(released);
    await this.audit(tenantId, 'legal_hold_released', 'Legal hold released', { hold: view, by: actor });
    return view;
  }
}
