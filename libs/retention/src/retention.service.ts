import { randomUUID } from 'node:crypto';
import { eachConcurrently } from '@app/common';
import { NotFoundError, StoredAuditEvent, ValidationError } from '@app/contracts';
import type { IngestPort } from '@app/ingest';
import type { IntegrityPort } from '@app/integrity';
import type { QueryPort } from '@app/query';
import {
  ArchivedDay,
  ChangeImpact,
  changeImpact,
  Hold,
  planRetention,
  policyFromJson,
  canonicalRetentionCategory,
  policyToJson,
  RetentionPolicy,
  RetentionPolicyInput,
  summarize,
  validatePolicy,
} from './core';
import { ArchiveManifest, ArchiveRepository } from './archive.repository';
import { ArchiveCheckError, Archiver, StorageError } from './archiver';
import { dayPages } from './day-pages';
import { JobKind, JobRepository, RetentionJob } from './jobs.repository';
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
  /** Archived days whose online count is not the archive's (late events): kept online, not offloaded. */
  differs_from_archive: Array<{ archive_id: string; category: string; day: string; online: number; archived: number }>;
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

/** A job as the API shows it (GET /audit/retention/jobs/:id): state, phase and progress, and its result once done. */
export interface JobView {
  id: string;
  kind: JobKind;
  state: RetentionJob['state'];
  phase: string;
  done: number;
  expected: number;
  /** The run's or the restore's result, once it succeeded. */
  result: Record<string, unknown> | null;
  /** Why it failed; while it runs, the last object-store error it is waiting out. */
  error: string | null;
  attempts: number;
  archive_id: string | null;
  created_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  status_url: string;
}

export const jobView = (j: RetentionJob): JobView => ({
  id: j.id,
  kind: j.kind,
  state: j.state,
  phase: j.phase,
  done: j.done,
  expected: j.expected,
  result: j.result,
  error: j.error,
  attempts: j.attempts,
  archive_id: typeof j.params.archive_id === 'string' ? j.params.archive_id : null,
  created_by: j.createdBy,
  created_at: j.createdAt.toISOString(),
  started_at: j.startedAt?.toISOString() ?? null,
  finished_at: j.finishedAt?.toISOString() ?? null,
  status_url: `/audit/retention/jobs/${j.id}`,
});

/** Records a job's progress and renews its lease; throws JobStopped when the worker stops or lost the job. */
type JobStep = (p: { phase?: string; done?: number; expected?: number; error?: string | null }) => Promise<void>;

class JobStopped extends Error {}

/** The counters the jobs feed (prom-client in the capability). */
export interface RetentionMetrics {
  storageError(): void;
  succeeded(kind: JobKind, at: Date): void;
}

const NO_METRICS: RetentionMetrics = { storageError: () => undefined, succeeded: () => undefined };

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

/**
 * Who learns of a removal before it happens: the integrity capability, through its port (its verification then
 * expects those events absent: docs/architecture.md "Integrity"). None when integrity is turned off.
 */
export type PolicyRemovalRecorder = Pick<IntegrityPort, 'recordPolicyRemoval'>;

/** Category-days archived at once in a run (see runTenant). */
const ARCHIVE_CONCURRENCY = 2;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Policies, their delayed changes and legal holds. Every change is an audit event written through ingest
 * (source homepot-audit) in the tenant it concerns; a change that would archive or delete data now waits
 * `changeDelayHours` with its dry run, so a mistaken or malicious shortening can be seen and cancelled.
 */
export class RetentionService {
  /** Identities given with a restore request: in memory only, never stored (a resumed job falls back to AUDIT_ARCHIVE_IDENTITY). */
  private readonly identities = new Map<string, string>();
  private storageFailure: { message: string; since: Date } | undefined;
  private lastSuccess: Date | undefined;
  private readonly owner = `retention-${randomUUID()}`;
  private stopped = false;
  private wake: (() => void) | undefined;
  private worker: Promise<void> | undefined;

  constructor(
    private readonly repo: RetentionRepository,
    private readonly query: QueryPort,
    private readonly ingest: IngestPort,
    private readonly settings: RetentionSettings,
    private readonly archives: ArchiveRepository,
    private readonly archiver: Archiver,
    private readonly jobs: JobRepository,
    private readonly metrics: RetentionMetrics = NO_METRICS,
    private readonly removals: () => PolicyRemovalRecorder | undefined = () => undefined,
  ) {}

  /** The scheduled run: due changes, then a run job for every tenant with a policy (unless one is open). */
  async runAll(): Promise<JobView[]> {
    await this.applyDue();
    const out: JobView[] = [];
    for (const t of await this.repo.tenantsWithPolicy()) {
      const open = await this.jobs.active(t, 'run');
      out.push(jobView(open ?? (await this.jobs.create(t, 'run', {}, 'retention-scheduler'))));
    }
    this.wake?.();
    return out;
  }

  /** Queues a run of the tenant's policy (or answers the one already queued or running). */
  async run(tenantId: string, actor: string): Promise<JobView> {
    await this.applyDue();
    const stored = await this.repo.policy(tenantId);
    if (!stored) throw new NotFoundError('no retention policy is set for this tenant (POST /audit/retention first)');
    const job = (await this.jobs.active(tenantId, 'run')) ?? (await this.jobs.create(tenantId, 'run', {}, actor));
    this.wake?.();
    return jobView(job);
  }

  /**
   * Queues the restore of an archive into the query store. What can be checked before (the id, the archive,
   * that an identity is at hand for an encrypted one) answers 400 or 404 here; the job then reads, checks and
   * decrypts the archive (identity from the request, else AUDIT_ARCHIVE_IDENTITY) and writes its events back
   * through ingest with their own ids, so the query store's dedup by id keeps one copy of what is online.
   */
  async restore(tenantId: string, id: string, identity: string | undefined, ttlDays: number, actor: string): Promise<JobView> {
    if (!UUID.test(id)) throw new ValidationError('the archive id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
    const m = await this.archives.find(tenantId, id);
    if (!m) throw new NotFoundError(`no archive ${id}`);
    if (m.recipients.length > 0 && !(identity ?? this.settings.archiveIdentity)) {
      throw new ValidationError('the archive is encrypted: give identity in the body or set AUDIT_ARCHIVE_IDENTITY', [
        { field: '/identity', message: 'is required for an encrypted archive (or AUDIT_ARCHIVE_IDENTITY)' },
      ]);
    }
    const job = await this.jobs.create(tenantId, 'restore', { archive_id: id, ttl_days: ttlDays }, actor);
    if (identity) this.identities.set(job.id, identity);
    this.wake?.();
    return jobView(job);
  }

  async job(tenantId: string, id: string): Promise<JobView> {
    if (!UUID.test(id)) throw new ValidationError('the job id must be a UUID', [{ field: 'id', message: 'must be a UUID' }]);
    const job = await this.jobs.find(tenantId, id);
    if (!job) throw new NotFoundError(`no retention job ${id}`);
    return jobView(job);
  }

  async listJobs(tenantId: string): Promise<JobView[]> {
    return (await this.jobs.list(tenantId, 100)).map(jobView);
  }

  /** The object store as the jobs last saw it, and when a job last succeeded (for /audit/status). */
  storageStatus(): { failure: { message: string; since: string } | null; lastSuccess: string | null } {
    return {
      failure: this.storageFailure ? { message: this.storageFailure.message, since: this.storageFailure.since.toISOString() } : null,
      lastSuccess: this.lastSuccess?.toISOString() ?? null,
    };
  }

  /** Starts the worker: it claims queued jobs, and running ones whose lease ran out (their process died). */
  startWorker(onError: (e: Error) => void): void {
    this.stopped = false;
    this.worker = (async () => {
      while (!this.stopped) {
        let job: RetentionJob | undefined;
        try {
          job = await this.jobs.claim(this.owner, this.settings.jobLeaseMs);
        } catch (e) {
          onError(e as Error);
        }
        if (job) await this.execute(job).catch((e: unknown) => onError(e as Error));
        else await this.sleep(Math.min(1000, this.settings.jobLeaseMs));
      }
    })();
  }

  /** Stops taking jobs; the job in hand goes back to the queue at its next step (another start redoes it). */
  async stopWorker(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.worker;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async execute(job: RetentionJob): Promise<void> {
    const lease = this.settings.jobLeaseMs;
    let lost = false;
    const heartbeat = setInterval(
      () => {
        void this.jobs.progress(job.id, this.owner, lease, {}).then(
          (ok) => (lost ||= !ok),
          () => undefined,
        );
      },
      Math.max(200, Math.floor(lease / 3)),
    );
    const step: JobStep = async (p) => {
      if (this.stopped) throw new JobStopped();
      if (lost || !(await this.jobs.progress(job.id, this.owner, lease, p))) throw new JobStopped();
    };
    const pause = async (): Promise<void> => {
      if (this.settings.testPauseMs > 0) await new Promise((r) => setTimeout(r, this.settings.testPauseMs));
    };
    try {
      for (;;) {
        try {
          const result = job.kind === 'run' ? await this.executeRun(job, step, pause) : await this.executeRestore(job, step, pause);
          this.storageFailure = undefined;
          this.lastSuccess = new Date();
          this.metrics.succeeded(job.kind, this.lastSuccess);
          await this.jobs.finish(job.id, this.owner, 'succeeded', result as unknown as Record<string, unknown>, null);
          this.identities.delete(job.id);
          return;
        } catch (e) {
          if (!(e instanceof StorageError)) throw e;
          // The object store failed: nothing was removed that its archive did not cover (every removal follows a
          // checked archive), so the job waits, keeps its lease, and starts over from what is stored.
          this.storageFailure ??= { message: e.message, since: new Date() };
          this.storageFailure.message = e.message;
          this.metrics.storageError();
          await step({ phase: 'waiting_for_storage', error: e.message });
          await this.sleep(this.settings.storageRetryMs);
          job = { ...job, phase: 'waiting_for_storage' };
        }
      }
    } catch (e) {
      if (e instanceof JobStopped) {
        if (!lost) await this.jobs.release(job.id, this.owner);
        return;
      }
      this.identities.delete(job.id);
      await this.jobs.finish(job.id, this.owner, 'failed', null, (e as Error).message);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async executeRun(job: RetentionJob, step: JobStep, pause: () => Promise<void>): Promise<RunResult> {
    await this.applyDue();
    return this.runTenant(job.tenantId, job.createdBy, job, step, pause);
  }

  private async executeRestore(job: RetentionJob, step: JobStep, pause: () => Promise<void>): Promise<RestoreResult> {
    const tenantId = job.tenantId;
    const id = job.params.archive_id as string;
    const m = await this.archives.find(tenantId, id);
    if (!m) throw new Error(`archive ${id} no longer exists (deleted past retention)`);
    const key = this.identities.get(job.id) ?? this.settings.archiveIdentity;
    if (m.recipients.length > 0 && !key) {
      throw new Error(
        'the identity given with the request is not kept across a restart: post the restore again, or set AUDIT_ARCHIVE_IDENTITY',
      );
    }
    // Marked first: while the events come back, the run does not offload the day again.
    const until = new Date(this.now().getTime() + Number(job.params.ttl_days) * 86_400_000);
    await this.archives.markRestored(m.id, until);
    const resumeFrom = job.phase === 'restoring' ? job.done : 0;
    await step({ phase: 'reading', done: 0, expected: m.event_count, error: null });
    const batch = this.settings.batchSize;
    // Resumed after a crash: from the batch it was in (a batch written twice adds nothing: dedup by id).
    const start = Math.floor(resumeFrom / batch) * batch;
    let submitted = start;
    let read = 0;
    // The archive is read a batch at a time (memory holds one, whatever its size); the reader checks it against
    // its manifest in a first pass, so no event of an archive that fails its check reaches ingest.
    try {
      for await (const events of this.archiver.batches(m, key, batch)) {
        if (read === 0) await step({ phase: 'restoring', done: start, expected: m.event_count });
        read += events.length;
        if (read <= start) continue;
        const chunk = events.map(toInput);
        const res = await this.ingest.ingest({ events: chunk, batch: true, tenantId, restore: true });
        if (res.rejected > 0) throw new Error(`restore of archive ${id}: ${res.rejected} event(s) refused by ingest`);
        submitted += res.accepted + res.duplicates;
        await step({ phase: 'restoring', done: read });
        await pause();
      }
    } catch (e) {
      if (e instanceof ArchiveCheckError) throw new Error(e.message);
      throw e;
    }
    const result: RestoreResult = {
      archive_id: m.id,
      category: m.category,
      day: m.day,
      events: read,
      submitted,
      restored_until: until.toISOString(),
    };
    await this.audit(tenantId, 'archive_restored', `Archive of ${m.category} ${m.day} restored into the query store`, {
      ...result,
      job_id: job.id,
      attempt: job.attempts,
      by: job.createdBy,
    });
    return result;
  }

  listArchives(tenantId: string): Promise<ArchiveManifest[]> {
    return this.archives.list(tenantId);
  }

  /**
   * Archives the days due, each read back and checked before its manifest is recorded; then removes from the
   * query store the days archived and the days past retention, and deletes the archives past retention, except
   * what a legal hold covers. Each step is safe to redo: the plan is recomputed from what is stored.
   */
  private async runTenant(
    tenantId: string,
    actor: string,
    job: RetentionJob,
    step: JobStep,
    pause: () => Promise<void>,
  ): Promise<RunResult> {
    const now = this.now();
    await step({ phase: 'planning', done: 0, expected: 0, error: null });
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
      differs_from_archive: [],
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
    result.differs_from_archive = plan.differsFromArchive.map((d) => ({
      archive_id: d.archive,
      category: d.category,
      day: d.day,
      online: d.count,
      archived: d.archivedCount,
    }));
    const recipients = this.settings.archiveRecipients;
    if (plan.archive.length > 0 && policy.encryptionRequired && recipients.length === 0) {
      result.archive_blocked = 'encryption_required and AUDIT_ARCHIVE_RECIPIENTS is not set';
    } else {
      let done = 0;
      await step({ phase: 'archiving', done, expected: summarize(plan.archive).events });
      // ARCHIVE_CONCURRENCY days at a time: each archive waits mostly on its object's fsync (or S3 upload) and the
      // manifest's insert, which another day's read and compression can overlap. On the first error no further
      // day is started and the days in hand finish before it is thrown, so a retry never races a running write.
      await eachConcurrently(plan.archive, ARCHIVE_CONCURRENCY, async (d) => {
        const m = await this.archiver.archiveDay(tenantId, d.category, d.day, {
          compress: policy.compress,
          recipients: policy.encryptionRequired || recipients.length > 0 ? recipients : [],
          policy: stored.policy,
          now,
        });
        await this.archives.save(m);
        result.archived.push({ id: m.id, category: m.category, day: m.day, events: m.event_count });
        plan.offload.push({ ...d, archived: true });
        done += m.event_count;
        await step({ done });
        await pause();
      });
      result.archived.sort((a, b) => (a.day === b.day ? a.category.localeCompare(b.category) : a.day < b.day ? -1 : 1));
    }
    // Only now, with every archive read back and recorded, does anything leave the query store: one day at a
    // time, so a crash leaves whole days (a day removed is in its archive; a day not removed is still online).
    const manifests = new Map((await this.archives.list(tenantId)).map((a) => [`${a.category}/${a.day}`, a]));
    // Each offloaded day goes only if it still holds exactly what its archive holds: an event stored since the
    // archive was read (a late one) keeps the day online, reported in differs_from_archive, never lost.
    const offload = plan.offload.flatMap((d) => {
      const m = manifests.get(`${d.category}/${d.day}`);
      return m ? [{ ...d, expected: m.event_count, archiveId: m.id }] : [];
    });
    result.offloaded = summarize(
      await this.removeDays(tenantId, offload, 'offloaded', step, pause, (d, kept) =>
        result.differs_from_archive.push({
          archive_id: d.archiveId ?? '',
          category: d.category,
          day: d.day,
          online: kept,
          archived: d.expected ?? 0,
        }),
      ),
    );
    result.deleted = summarize(await this.removeDays(tenantId, plan.delete, 'deleted', step, pause));
    await step({ phase: 'deleting_archives', done: 0, expected: plan.deleteArchives.length });
    for (const a of plan.deleteArchives) {
      const m = manifests.get(`${a.category}/${a.day}`);
      if (!m) continue;
      await this.archiver.deleteObject(m.object_key);
      await this.archives.markDeleted(m.id, now);
      result.archives_deleted.push({ id: m.id, category: m.category, day: m.day, events: m.event_count });
      await step({ done: result.archives_deleted.length });
      await pause();
    }
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
        differs_from_archive: result.differs_from_archive,
        archive_blocked: result.archive_blocked,
        job_id: job.id,
        attempt: job.attempts,
        by: actor,
      },
    );
    return result;
  }

  private async removeDays<D extends { category: string; day: string; count: number; expected?: number; archiveId?: string }>(
    tenantId: string,
    days: D[],
    reason: 'offloaded' | 'deleted',
    step: JobStep,
    pause: () => Promise<void>,
    onKept: (day: D, kept: number) => void = () => undefined,
  ): Promise<Array<{ day: string; count: number }>> {
    const removed: Array<{ day: string; count: number }> = [];
    let done = 0;
    await step({ phase: reason === 'offloaded' ? 'offloading' : 'deleting', done, expected: days.reduce((n, d) => n + d.count, 0) });
    for (const d of days) {
      await this.recordRemoval(tenantId, d, reason);
      const r = await this.query.deleteDays(tenantId, [{ category: d.category, day: d.day, expected: d.expected }]);
      for (const x of r) if (x.kept !== undefined) onKept(d, x.kept);
      removed.push(...r.filter((x) => x.kept === undefined));
      done += r.reduce((n, x) => n + x.count, 0);
      await step({ done });
      await pause();
    }
    return removed;
  }

  /**
   * Tells integrity which events of the day are about to go, before they go: a crash in between leaves a record
   * of events still online (harmless, and the redone run removes them), never a removal verification would
   * read as tampering. For an offload the delete happens only while the day holds its archive's count (a late
   * event keeps the day online); for a day past retention, an event stored between this read and the delete
   * is removed unrecorded and is named
   * `removed` by the next verification: a false alarm, never a silent gap (docs/architecture.md "Integrity").
   */
  private async recordRemoval(tenantId: string, d: { category: string; day: string }, reason: 'offloaded' | 'deleted'): Promise<void> {
    const recorder = this.removals();
    if (!recorder) return;
    for await (const page of dayPages(this.query, tenantId, d.category, d.day)) {
      await recorder.recordPolicyRemoval(tenantId, { category: d.category, day: d.day, reason, ids: page.map((e) => e.id) });
    }
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
    const [current, stored, holds, archived, superseded] = await Promise.all([
      this.current(tenantId, now),
      this.query.dailyCounts(tenantId),
      this.repo.holds(tenantId),
      this.archives.list(tenantId),
      this.repo.pending(tenantId),
    ]);
    // The archives too: for an offloaded day the archive is the only copy, and deleting it is destructive.
    const dryRun = changeImpact(current, policy, holds.map(asHold), now, stored, archived.map(toArchivedDay));
    const delayMs = this.settings.changeDelayHours * 3_600_000;
    if (!dryRun.destructive || delayMs === 0) {
      // The audit event first: a change that could not be recorded is not made.
      await this.audit(tenantId, 'retention_policy_changed', 'Retention policy set', {
        policy: json,
        previous: current ? policyToJson(current) : null,
        dry_run: dryRun,
        superseded: superseded.map((p) => p.id),
        by: actor,
      });
      await this.repo.applyPolicy(tenantId, json, actor, now);
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
      superseded: superseded.map((p) => p.id),
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
    return applied;
  }

  /** The stored policy after the changes whose delay passed, as getPolicy shows it; no store counts (reports cite it). */
  async policyInForce(tenantId: string): Promise<Record<string, unknown>> {
    await this.applyDue();
    const stored = await this.repo.policy(tenantId);
    return {
      policy: stored ? stored.policy : null,
      updated_at: stored?.updatedAt.toISOString() ?? null,
      updated_by: stored?.updatedBy ?? null,
    };
  }

  async getPolicy(tenantId: string): Promise<Record<string, unknown>> {
    await this.applyDue();
    const now = this.now();
    const [stored, pending, counts, holds, archived, lastRun] = await Promise.all([
      this.repo.policy(tenantId),
      this.repo.pending(tenantId),
      this.query.dailyCounts(tenantId),
      this.repo.holds(tenantId),
      this.archives.list(tenantId),
      this.jobs.lastFinished(tenantId, 'run'),
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
        last_run: lastRun?.finishedAt?.toISOString() ?? null,
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
    const category = input.category === undefined ? null : canonicalRetentionCategory('/category', input.category);
    const hold = await this.repo.addHold({
      tenantId,
      category,
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
