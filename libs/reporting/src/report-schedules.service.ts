import { DataSource } from 'typeorm';
import { isUuid, NotFoundError, uuidv7 } from '@app/contracts';
import type { AlertingPort } from '@app/alerting';
import { IngestPort } from '@app/ingest';
import { nextRun, parseScheduleDefinition, periodFor, presentSpec, ScheduleDefinition, slotFor } from './core/schedule';
import { JobView, Requester } from './reporting.port';
import { auditAsRequester } from './requester-audit';

/** What the scheduler needs of the job service: start a report as POST /audit/reports does, and see a job. */
export interface ReportJobs {
  startReport(tenantId: string, body: unknown, requester: Requester, schedule?: { id: string; slot: string }): Promise<JobView>;
  get(tenantId: string, kind: 'report', id: string): Promise<JobView>;
}

interface Logger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

type Row = Record<string, unknown>;
const rowsOf = (res: unknown): Row[] =>
  Array.isArray(res) && res.length === 2 && Array.isArray(res[0]) && typeof res[1] === 'number' ? res[0] : (res as Row[]);
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
const isoOf = (v: unknown): string => new Date(v as string).toISOString();

interface StoredSchedule {
  id: string;
  tenantId: string;
  definition: ScheduleDefinition;
  channelId: string | null;
  paused: boolean;
  nextRunAt: Date;
  createdBy: string;
  createdByKey: string;
  createdAt: Date;
  updatedAt: Date;
}

function toSchedule(r: Row): StoredSchedule {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    definition: json<ScheduleDefinition>(r.definition),
    channelId: (r.channel_id as string | null) ?? null,
    paused: r.paused as boolean,
    nextRunAt: new Date(r.next_run_at as string),
    createdBy: r.created_by as string,
    createdByKey: r.created_by_key as string,
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

/** How long a claimed slot may go without its job before another replica queues it (a crash in between). */
const CLAIM_STALE_SECONDS = 300;
/** The reason a schedule shows when the service paused it. */
export const REVOKED_OWNER = 'the API key that owns it was revoked; resuming it makes the resuming key its owner';

/**
 * Scheduled reports. Each tick (every replica, on the injected clock) finds the schedules due, claims the due
 * slot with an INSERT of (schedule, slot) that only one replica wins, and queues a normal report job for the
 * period before the slot. Runs whose job finished are handed to the alerting capability's delivery (its
 * outbox: signed webhook, e-mail, retries), keyed by the job id so a repeated hand-over queues nothing new;
 * without a delivery the file stays stored with the run. Missed slots (every replica down) are not caught up:
 * the latest due slot runs, once.
 */
export class ReportSchedules {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  /** Whether the configuration store holds the API keys (checked once). */
  private hasKeys: boolean | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly jobs: ReportJobs,
    private readonly alerting: () => AlertingPort,
    private readonly ingest: IngestPort,
    private readonly clock: () => number,
    private readonly logger: Logger,
  ) {}

  start(tickMs: number): void {
    const loop = (): void => {
      if (this.closed) return;
      this.ticking = this.tick()
        .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'report schedule tick failed'))
        .finally(() => {
          this.ticking = undefined;
          if (!this.closed) this.timer = setTimeout(loop, tickMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }

  async create(tenantId: string, body: unknown, requester: Requester): Promise<Record<string, unknown>> {
    const now = this.clock();
    const definition = parseScheduleDefinition(body, now * 1000);
    const channel = await this.openChannel(tenantId, definition);
    const id = uuidv7();
    await this.ds.query(
      `INSERT INTO report_schedules (id, tenant_id, name, definition, channel_id, paused, next_run_at, created_by, created_by_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        id,
        tenantId,
        definition.name,
        JSON.stringify(definition),
        channel?.id ?? null,
        definition.paused,
        new Date(nextRun(definition.spec, now)),
        requester.name,
        requester.keyId,
      ],
    );
    await this.audit(tenantId, 'report_schedule_created', `report schedule '${definition.name}' created`, id, requester, definition);
    return { ...(await this.get(tenantId, id)), ...this.secretOf(channel) };
  }

  async list(tenantId: string): Promise<Record<string, unknown>> {
    const rows: Row[] = await this.ds.query('SELECT * FROM report_schedules WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
    return { schedules: rows.map((r) => this.present(toSchedule(r), [])), total: rows.length };
  }

  async get(tenantId: string, id: string): Promise<Record<string, unknown>> {
    const s = await this.find(tenantId, id);
    const runs: Row[] = await this.ds.query('SELECT * FROM report_schedule_runs WHERE schedule_id = $1 ORDER BY slot DESC LIMIT 20', [
      s.id,
    ]);
    return this.present(s, runs);
  }

  /** Replaces the definition (PUT); a changed delivery gets a new channel, and a webhook a new secret. */
  async update(tenantId: string, id: string, body: unknown, requester: Requester): Promise<Record<string, unknown>> {
    const s = await this.find(tenantId, id);
    const now = this.clock();
    const definition = parseScheduleDefinition(body, now * 1000);
    const same = JSON.stringify(definition.delivery) === JSON.stringify(s.definition.delivery);
    const channel = same ? undefined : await this.openChannel(tenantId, definition);
    await this.ds.query(
      `UPDATE report_schedules SET name = $3, definition = $4, channel_id = $5, paused = $6, next_run_at = $7, updated_at = now()
       WHERE tenant_id = $1 AND id = $2`,
      [
        tenantId,
        id,
        definition.name,
        JSON.stringify(definition),
        same ? s.channelId : (channel?.id ?? null),
        definition.paused,
        new Date(nextRun(definition.spec, now)),
      ],
    );
    if (!same && s.channelId) await this.alerting().closeChannel(tenantId, s.channelId);
    await this.audit(tenantId, 'report_schedule_updated', `report schedule '${definition.name}' updated`, id, requester, definition);
    return { ...(await this.get(tenantId, id)), ...this.secretOf(channel) };
  }

  async remove(tenantId: string, id: string, requester: Requester): Promise<Record<string, unknown>> {
    const s = await this.find(tenantId, id);
    await this.ds.query('DELETE FROM report_schedules WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    if (s.channelId) await this.alerting().closeChannel(tenantId, s.channelId);
    await this.audit(tenantId, 'report_schedule_deleted', `report schedule '${s.definition.name}' deleted`, id, requester);
    return { id, deleted: true };
  }

  /** Pausing stops new runs (a run already queued finishes and is delivered); resuming runs from the next slot. */
  async setPaused(tenantId: string, id: string, paused: boolean, requester: Requester): Promise<Record<string, unknown>> {
    const s = await this.find(tenantId, id);
    const { paused_reason: _reason, ...rest } = s.definition;
    const definition = { ...rest, paused };
    // Resuming makes the resuming key the owner: the schedule runs on its authority from now on.
    await this.ds.query(
      `UPDATE report_schedules SET paused = $3, definition = $4, next_run_at = $5, updated_at = now()
         ${paused ? '' : ', created_by = $6, created_by_key = $7'}
       WHERE tenant_id = $1 AND id = $2`,
      [
        tenantId,
        id,
        paused,
        JSON.stringify(definition),
        new Date(nextRun(s.definition.spec, this.clock())),
        ...(paused ? [] : [requester.name, requester.keyId]),
      ],
    );
    await this.audit(
      tenantId,
      paused ? 'report_schedule_paused' : 'report_schedule_resumed',
      `report schedule '${s.definition.name}' ${paused ? 'paused' : 'resumed'}`,
      id,
      requester,
    );
    return this.get(tenantId, id);
  }

  /**
   * A schedule runs on the authority of the API key that created it (or last resumed it): once that key is
   * revoked, the schedule is paused, with the reason in its view and an audit event, rather than go on
   * producing reports for a key nobody holds. Resuming it makes the resuming key its owner.
   */
  private async pauseRevokedOwners(): Promise<void> {
    // The keys' table is in the same configuration store wherever reporting runs with the API; where it is
    // not (a deployment that keeps keys elsewhere), there is nothing to check.
    this.hasKeys ??= rowsOf(await this.ds.query("SELECT to_regclass('api_keys') IS NOT NULL AS present"))[0]?.present === true;
    if (!this.hasKeys) return;
    const paused: Row[] = rowsOf(
      await this.ds.query(
        `UPDATE report_schedules s SET paused = true, updated_at = now(),
           definition = s.definition || jsonb_build_object('paused', true, 'paused_reason', $1::text)
         FROM api_keys k
         WHERE NOT s.paused AND k.id::text = s.created_by_key AND k.revoked_at IS NOT NULL
         RETURNING s.id, s.tenant_id, s.name, s.created_by, s.created_by_key`,
        [REVOKED_OWNER],
      ),
    );
    for (const r of paused) {
      this.logger.warn({ schedule: r.id, key: r.created_by_key }, 'report schedule paused: its API key was revoked');
      await this.audit(
        r.tenant_id as string,
        'report_schedule_paused',
        `report schedule '${String(r.name)}' paused: ${REVOKED_OWNER}`,
        r.id as string,
        { keyId: r.created_by_key as string, name: r.created_by as string },
      );
    }
  }

  /** One pass: due slots claimed and queued, stale claims queued again, finished runs handed to delivery. */
  async tick(): Promise<void> {
    await this.pauseRevokedOwners();
    const now = this.clock();
    const due: Row[] = await this.ds.query(
      'SELECT * FROM report_schedules WHERE NOT paused AND next_run_at <= $1 ORDER BY next_run_at LIMIT 50',
      [new Date(now)],
    );
    for (const row of due) {
      if (this.closed) return;
      const s = toSchedule(row);
      const slot = slotFor(s.definition.spec, now);
      const claimed = rowsOf(
        await this.ds.query(
          `INSERT INTO report_schedule_runs (schedule_id, slot, tenant_id, state) VALUES ($1, $2, $3, 'claimed')
           ON CONFLICT DO NOTHING RETURNING schedule_id`,
          [s.id, new Date(slot), s.tenantId],
        ),
      );
      // Every replica computes the same next run: whichever writes it, the value is the same.
      await this.ds.query('UPDATE report_schedules SET next_run_at = $2 WHERE id = $1 AND next_run_at <= $3', [
        s.id,
        new Date(nextRun(s.definition.spec, now)),
        new Date(now),
      ]);
      if (claimed.length > 0) await this.queueRun(s, slot);
    }
    const stale = rowsOf(
      await this.ds.query(
        `UPDATE report_schedule_runs SET claimed_at = now()
         WHERE state = 'claimed' AND claimed_at < now() - make_interval(secs => $1) RETURNING schedule_id, slot`,
        [CLAIM_STALE_SECONDS],
      ),
    );
    for (const r of stale) {
      const rows: Row[] = await this.ds.query('SELECT * FROM report_schedules WHERE id = $1', [r.schedule_id]);
      if (rows[0]) await this.queueRun(toSchedule(rows[0]), new Date(r.slot as string).getTime());
    }
    await this.deliverFinished();
  }

  private async queueRun(s: StoredSchedule, slot: number): Promise<void> {
    const body = { ...s.definition.report, period: periodFor(s.definition.spec, slot) };
    const job = await this.jobs.startReport(
      s.tenantId,
      body,
      { keyId: s.createdByKey, name: s.createdBy },
      { id: s.id, slot: new Date(slot).toISOString() },
    );
    await this.ds.query("UPDATE report_schedule_runs SET job_id = $3, state = 'queued' WHERE schedule_id = $1 AND slot = $2", [
      s.id,
      new Date(slot),
      job.id,
    ]);
    this.logger.info({ schedule: s.id, slot: new Date(slot).toISOString(), job: job.id }, 'scheduled report queued');
  }

  private async deliverFinished(): Promise<void> {
    const runs: Row[] = await this.ds.query(
      `SELECT r.schedule_id, r.slot, r.job_id, r.tenant_id, s.channel_id, s.name FROM report_schedule_runs r
       JOIN reporting_jobs j ON j.id = r.job_id JOIN report_schedules s ON s.id = r.schedule_id
       WHERE r.state = 'queued' AND j.state IN ('done', 'failed', 'expired') LIMIT 50`,
    );
    for (const r of runs) {
      if (this.closed) return;
      const tenantId = r.tenant_id as string;
      const job = await this.jobs.get(tenantId, 'report', r.job_id as string);
      const channelId = (r.channel_id as string | null) ?? null;
      if (channelId) {
        await this.alerting().notify(tenantId, channelId, this.message(r, job));
      }
      await this.ds.query('UPDATE report_schedule_runs SET state = $3, finished_at = now() WHERE schedule_id = $1 AND slot = $2', [
        r.schedule_id,
        r.slot,
        channelId ? 'notified' : 'stored',
      ]);
    }
  }

  /** The webhook body and the e-mail: the report's file, hash and link (downloading it is itself audited). */
  private message(r: Row, job: JobView): { id: string; subject: string; text: string; payload: Record<string, unknown> } {
    const manifest = job.manifest ?? {};
    const period = (manifest.period as Record<string, unknown> | undefined) ?? null;
    const reportType = (manifest.report_type as string | undefined) ?? 'report';
    const data = {
      schedule_id: r.schedule_id,
      schedule_name: r.name,
      slot: isoOf(r.slot),
      job_id: job.id,
      state: job.state,
      report_type: reportType,
      period,
      rows: manifest.rows ?? null,
      file: job.file,
      status_url: job.status_url,
      download_url: job.download_url,
      summary: manifest.summary ?? null,
      warnings: job.warnings,
      error: job.error,
    };
    const text = [
      `Scheduled report '${String(r.name)}' (${reportType}) ${job.state === 'done' ? 'is ready' : `did not complete: ${job.error ?? job.state}`}.`,
      period ? `Period: ${String(period.start)} .. ${String(period.end)}` : '',
      job.file ? `File: ${job.file.name}, ${job.file.size} bytes, SHA-256 ${job.file.sha256}` : '',
      job.download_url ? `Download (with an API key that may read events): ${job.download_url}` : '',
      ...job.warnings.map((w) => `Warning: ${w}`),
    ]
      .filter((l) => l !== '')
      .join('\n');
    return {
      id: job.id,
      subject: `Scheduled report: ${String(r.name)}${job.state === 'done' ? '' : ' (failed)'}`,
      text,
      payload: { type: job.state === 'done' ? 'report.generated' : 'report.failed', timestamp: new Date().toISOString(), data },
    };
  }

  private async openChannel(tenantId: string, d: ScheduleDefinition) {
    if (!d.delivery.webhook && d.delivery.email.length === 0) return undefined;
    return this.alerting().openChannel(tenantId, 'scheduled report', d.delivery);
  }

  private secretOf(channel: { webhook_secret?: string; warnings: string[] } | undefined): Record<string, unknown> {
    return {
      ...(channel?.webhook_secret ? { webhook_secret: channel.webhook_secret } : {}),
      ...(channel && channel.warnings.length > 0 ? { warnings: channel.warnings } : {}),
    };
  }

  private async find(tenantId: string, id: string): Promise<StoredSchedule> {
    const rows: Row[] = isUuid(id)
      ? await this.ds.query('SELECT * FROM report_schedules WHERE tenant_id = $1 AND id = $2', [tenantId, id])
      : [];
    if (!rows[0]) throw new NotFoundError(`no report schedule ${id.slice(0, 64)}`);
    return toSchedule(rows[0]);
  }

  private present(s: StoredSchedule, runs: Row[]): Record<string, unknown> {
    const d = s.definition;
    return {
      id: s.id,
      name: d.name,
      ...presentSpec(d.spec),
      report: d.report,
      delivery: { webhook: d.delivery.webhook, email: d.delivery.email, stored: true },
      paused: s.paused,
      ...(s.paused && d.paused_reason ? { paused_reason: d.paused_reason } : {}),
      next_run_at: s.paused ? null : s.nextRunAt.toISOString(),
      next_period: periodFor(d.spec, s.nextRunAt.getTime()),
      created_by: s.createdBy,
      created_at: s.createdAt.toISOString(),
      updated_at: s.updatedAt.toISOString(),
      runs: runs.map((r) => ({
        slot: isoOf(r.slot),
        state: r.state,
        job_id: r.job_id ?? null,
        status_url: r.job_id ? `/audit/reports/${String(r.job_id)}` : null,
      })),
    };
  }

  private async audit(
    tenantId: string,
    eventType: string,
    description: string,
    scheduleId: string,
    requester: Requester,
    definition?: ScheduleDefinition,
  ): Promise<void> {
    await auditAsRequester(this.ingest, tenantId, requester, {
      event_type: eventType,
      category: 'security_events',
      description,
      metadata: { schedule_id: scheduleId, ...(definition ? { schedule: JSON.stringify(definition).slice(0, 2000) } : {}) },
      resource: `/audit/reports/schedules/${scheduleId}`,
    });
  }
}
