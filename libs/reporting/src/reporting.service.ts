import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { Repository } from 'typeorm';
import { formatMicros, isUuid, NotFoundError, nowMicros, StoredAuditEvent, uuidv7, AuditError, ErrorCode } from '@app/contracts';
import { IngestPort } from '@app/ingest';
import type { IntegrityPort } from '@app/integrity';
import { EngineFileExport, engineFileExport, EventFilter, ExportPage, QueryPort, RangeCursor } from '@app/query';
import type { RetentionPort } from '@app/retention';
import { ComponentHealth } from '@app/runtime';
import { ObjectStore } from '@app/storage';
import {
  checkpointAbsence,
  CheckpointReading,
  integrityEvidence,
  manifestCheckpoint,
  Reading,
  RetentionAnswers,
  retentionEvidence,
} from './core/capability-evidence';
import { CONTENT_TYPES, ExportFormat } from './core/json';
import { ExportFileWriter } from './core/export-file';
import { csvHeader } from './core/csv';
import { GrowingFile } from './growing-file';
import { CONTROLS } from './core/compliance';
import {
  aggregatorFromCounts,
  buildReport,
  controlKey,
  ReportAggregator,
  ReportContext,
  reportToCsv,
  searchParamsObject,
  searchParamsOf,
  reportToHtml,
  SAMPLE_ROWS,
} from './core/report';
import { parseExportRequest, parseReportRequest, ReportFormat, ReportType } from './core/requests';
import { ChunkedReader } from './file-reader';
import type { ReportSchedules } from './report-schedules.service';
import { JobKind, ReportingJobEntity } from './reporting-job.entity';
import { FileChunk, JobView, MAX_READ_BYTES, ReportingPort, Requester } from './reporting.port';
import { auditAsRequester } from './requester-audit';

/**
 * Default rows per read of the store (AUDIT_REPORT_PAGE_ROWS): each read costs a query's start-up on the
 * engine and a progress write, so fewer, larger pages export faster. An export page is one string (about
 * 300 bytes a row, so 6 MB), a report's page is event objects, at most MAX_RANGE_ROWS of them.
 */
export const EXPORT_PAGE_ROWS = 20_000;
/**
 * Default rows per statement when the engine writes the export file itself (exportToEngineFile): a page is
 * streamed by the engine, never held, so it is larger; it is a run of whole hours, so a page may exceed it.
 */
export const ENGINE_EXPORT_PAGE_ROWS = 250_000;
/** The query port's limit for one range read. */
const MAX_RANGE_ROWS = 10_000;

/** An export's file as stored, and what the manifest says of its rows. */
interface WrittenExport {
  info: { size: number; sha256: string };
  rows: number;
  first: string | null;
  last: string | null;
}

interface StoredExport {
  kind: 'export';
  body: Record<string, unknown>;
  format: ExportFormat;
  includeMetadata: boolean;
  compress: boolean;
  filter: EventFilter;
}
interface StoredReport {
  kind: 'report';
  body: Record<string, unknown>;
  reportType: ReportType;
  format: ReportFormat;
  filter: EventFilter;
  /** Set for a scheduled run: the schedule and its slot (in the manifest too). */
  schedule?: { id: string; slot: string };
}
type StoredRequest = StoredExport | StoredReport;

export interface ReportingSettings {
  fileTtlHours: number;
  maxConcurrentJobs: number;
  /** Rows per export page (default EXPORT_PAGE_ROWS); a report's range reads take at most 10,000 of them. */
  pageRows?: number;
  /** Rows per statement when the engine writes the export's file itself (default ENGINE_EXPORT_PAGE_ROWS). */
  filePageRows?: number;
  /** How often a replica looks for jobs it did not accept (default 2 s). */
  pollMs?: number;
  /** How long a claim holds without a heartbeat (default 60 s): a stopped replica's job runs elsewhere after it. */
  leaseSeconds?: number;
  /** A queued job is left this long to the replica that accepted it before others take it (default 2 s). */
  handoffSeconds?: number;
}

/**
 * The capabilities a report cites, resolved on first use (in the embedded app they are bound by then;
 * elsewhere they are TCP clients); undefined: named in AUDIT_CAPABILITIES_OFF.
 */
export interface EvidencePorts {
  retention(): RetentionPort | undefined;
  integrity(): IntegrityPort | undefined;
}

const NO_EVIDENCE: EvidencePorts = { retention: () => undefined, integrity: () => undefined };

/** A port's answer as a Reading: off when the port is off, unavailable (with the reason) when it fails. */
async function readPort<P, T>(port: P | undefined, ask: (p: P) => Promise<T>): Promise<Reading<T>> {
  if (port === undefined) return { state: 'off' };
  try {
    return { state: 'ok', value: await ask(port) };
  } catch (err) {
    return { state: 'unavailable', reason: (err as Error).message.slice(0, 300) };
  }
}

interface Logger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

const REPORT_TYPES_FOR: Record<ReportFormat, string> = {
  json: 'application/json',
  csv: 'text/csv; charset=utf-8; header=present',
  html: 'text/html; charset=utf-8',
};

/**
 * Export and report jobs: a row in reporting_jobs, claimed by one replica at a time (a conditional UPDATE of
 * the row, FOR UPDATE SKIP LOCKED, with a lease the runner extends), run at most maxConcurrentJobs at once per
 * replica, streaming the period from the query port a page at a time into the shared object store. The
 * replica that accepted a job claims it at once; the others poll for queued jobs left to them and for leases
 * that ran out. Running a job again writes the same key again, atomically: safe to redo.
 */
export class ReportingService implements ReportingPort {
  private running = 0;
  /** Jobs this replica accepted: claimed first. */
  private readonly waiting: string[] = [];
  private readonly reader: ChunkedReader;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Who claims: distinct per process, so a lease names its runner. */
  readonly replicaId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly lost = new Set<string>();
  private pumping = false;
  private pumpAgain = false;
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly jobs: Repository<ReportingJobEntity>,
    private readonly query: QueryPort,
    private readonly ingest: IngestPort,
    private readonly files: ObjectStore,
    private readonly settings: ReportingSettings,
    private readonly logger: Logger,
    private readonly evidence: EvidencePorts = NO_EVIDENCE,
  ) {
    this.reader = new ChunkedReader(files);
  }

  async startExport(tenantId: string, body: unknown, requester: Requester): Promise<JobView> {
    const r = parseExportRequest(body, nowMicros());
    const stored: StoredExport = {
      kind: 'export',
      body: r.query,
      format: r.format,
      includeMetadata: r.includeMetadata,
      compress: r.compress,
      filter: r.filter,
    };
    return this.create(tenantId, 'export', stored, requester);
  }

  async startReport(tenantId: string, body: unknown, requester: Requester, schedule?: { id: string; slot: string }): Promise<JobView> {
    const r = parseReportRequest(body, nowMicros());
    const stored: StoredReport = {
      kind: 'report',
      body: r.query,
      reportType: r.reportType,
      format: r.format,
      filter: r.filter,
      ...(schedule ? { schedule } : {}),
    };
    return this.create(tenantId, 'report', stored, requester);
  }

  /** Scheduled reports (POST /audit/reports/schedules ...), attached by the capability. */
  schedules?: ReportSchedules;

  private scheduler(): ReportSchedules {
    if (!this.schedules) throw new Error('report schedules are not running in this process');
    return this.schedules;
  }

  createSchedule(tenantId: string, body: unknown, requester: Requester): Promise<Record<string, unknown>> {
    return this.scheduler().create(tenantId, body, requester);
  }

  listSchedules(tenantId: string): Promise<Record<string, unknown>> {
    return this.scheduler().list(tenantId);
  }

  getSchedule(tenantId: string, id: string): Promise<Record<string, unknown>> {
    return this.scheduler().get(tenantId, id);
  }

  updateSchedule(tenantId: string, id: string, body: unknown, requester: Requester): Promise<Record<string, unknown>> {
    return this.scheduler().update(tenantId, id, body, requester);
  }

  removeSchedule(tenantId: string, id: string, requester: Requester): Promise<Record<string, unknown>> {
    return this.scheduler().remove(tenantId, id, requester);
  }

  setSchedulePaused(tenantId: string, id: string, paused: boolean, requester: Requester): Promise<Record<string, unknown>> {
    return this.scheduler().setPaused(tenantId, id, paused, requester);
  }

  async get(tenantId: string, kind: JobKind, id: string): Promise<JobView> {
    return view(await this.find(tenantId, kind, id));
  }

  async read(tenantId: string, kind: JobKind, id: string, offset: number, length: number): Promise<FileChunk> {
    const job = await this.find(tenantId, kind, id);
    if (job.state !== 'done' || !job.fileKey) {
      throw new AuditError(ErrorCode.NotReady, `the ${kind} is ${job.state}, not ready for download`, 409, [
        { field: 'id', message: `state is ${job.state}` },
      ]);
    }
    const { data, eof } = await this.reader.read(job.fileKey, offset, Math.min(length, MAX_READ_BYTES));
    return { data: data.toString('base64'), eof };
  }

  async health(): Promise<ComponentHealth> {
    const ok = await this.files.ping();
    return { ok, detail: { files: this.files.kind, files_up: ok, jobs_running: this.running, jobs_waiting: this.waiting.length } };
  }

  /**
   * Starts polling for jobs other replicas accepted and for jobs whose runner stopped (queued, or running past
   * their lease): they are run again, their files written from scratch.
   */
  async resume(): Promise<void> {
    if (this.closed || this.poller) return;
    this.poller = setInterval(() => this.pump(), this.settings.pollMs ?? 2000);
    this.poller.unref();
    this.pump();
    return Promise.resolve();
  }

  /** Deletes the files of finished jobs past their expiry; the row stays, as 'expired', with its manifest. */
  async expire(now = new Date()): Promise<number> {
    const done = await this.jobs.createQueryBuilder('j').where("j.state = 'done' AND j.expires_at <= :now", { now }).getMany();
    for (const j of done) {
      if (j.fileKey) await this.files.delete(j.fileKey);
      await this.files.delete(manifestKey(j));
      await this.jobs.update({ id: j.id }, { state: 'expired' });
    }
    return done.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.waiting.length = 0;
    await Promise.allSettled([...this.inFlight]);
    await this.reader.close();
  }

  private async find(tenantId: string, kind: JobKind, id: string): Promise<ReportingJobEntity> {
    const job = isUuid(id) ? await this.jobs.findOne({ where: { id, tenantId, kind } }) : null;
    if (!job) throw new NotFoundError(`no ${kind} ${id.slice(0, 64)}`);
    return job;
  }

  private async create(tenantId: string, kind: JobKind, request: StoredRequest, requester: Requester): Promise<JobView> {
    const warnings = await this.coverageWarnings(tenantId, request.filter);
    const id = uuidv7();
    const job = this.jobs.create({
      id,
      tenantId,
      kind,
      state: 'queued',
      request: request as unknown as Record<string, unknown>,
      requestedBy: requester.name,
      rowsExpected: null,
      rowsDone: '0',
      fileKey: null,
      fileName: null,
      contentType: null,
      fileSize: null,
      fileSha256: null,
      manifest: null,
      warnings,
      error: null,
      createdAt: new Date(),
      finishedAt: null,
      expiresAt: null,
      claimedBy: null,
      leaseUntil: null,
      attempts: 0,
    });
    // Recorded before the job exists, and the request fails if it cannot be: there is no silent export.
    const what = kind === 'export' ? 'data export' : `${(request as StoredReport).reportType} report`;
    await this.record(tenantId, kind, id, 'requested', requester, `Audit ${what} ${id} requested`, {
      request: JSON.stringify(request.body).slice(0, 2000),
    });
    // After the event: a row whose event could not be written would otherwise run at the next start.
    // TypeORM's deep-partial type refuses jsonb columns typed as records; the entity is complete here.
    await this.jobs.insert(job as never);
    this.enqueue(id);
    return view(job);
  }

  async recordDownload(tenantId: string, kind: JobKind, id: string, requester: Requester): Promise<{ event_id: string }> {
    const job = await this.find(tenantId, kind, id);
    const eventId = await this.record(
      tenantId,
      kind,
      id,
      'downloaded',
      requester,
      `Audit ${kind === 'export' ? 'data export' : 'report'} ${id} downloaded`,
      {
        sha256: job.fileSha256 ?? '',
      },
    );
    return { event_id: eventId };
  }

  /**
   * data_exported / report_generated through the ingest port; a refusal is an error (the caller's request
   * fails), so neither a job nor a download happens without its event.
   */
  private async record(
    tenantId: string,
    kind: JobKind,
    id: string,
    action: 'requested' | 'downloaded',
    requester: Requester,
    description: string,
    extra: Record<string, string>,
  ): Promise<string> {
    return auditAsRequester(this.ingest, tenantId, requester, {
      event_type: kind === 'export' ? 'data_exported' : 'report_generated',
      description,
      metadata: { job_id: id, action, ...extra },
      resource: `/audit/${kind === 'export' ? 'exports' : 'reports'}/${id}`,
    });
  }

  /**
   * A period beyond what is held is answered with what is available, and says so: against the tenant's oldest
   * event of any kind (what the store holds), not the oldest one matching the filter, or every filtered export
   * of an ordinary day would warn.
   */
  private async coverageWarnings(tenantId: string, filter: EventFilter): Promise<string[]> {
    const held: EventFilter = { categories: [], eventTypes: [], severities: [], metadata: [] };
    const [oldest] = await this.query.range(tenantId, held, null, 1);
    const warnings: string[] = [];
    if (!oldest) return ['no events are held for this tenant: the result is empty'];
    const oldestUs = Date.parse(oldest.timestamp) * 1000;
    if (filter.fromUs !== undefined && filter.fromUs < oldestUs) {
      warnings.push(`the period starts before the oldest event held (${oldest.timestamp}); the result covers what is available from then`);
    }
    if (filter.toUs !== undefined && filter.toUs > nowMicros()) {
      warnings.push(`the period ends in the future; the result covers events up to ${formatMicros(nowMicros())}`);
    }
    return warnings;
  }

  private enqueue(id: string): void {
    this.waiting.push(id);
    this.pump();
  }

  /** Claims and starts jobs while this replica has room: its own first, then any left to it. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void (async () => {
      try {
        do {
          this.pumpAgain = false;
          while (!this.closed && this.running < this.settings.maxConcurrentJobs) {
            const id = await this.claimNext();
            if (!id) break;
            this.start(id);
          }
        } while (this.pumpAgain && !this.closed);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'claiming reporting jobs failed');
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async claimNext(): Promise<string | undefined> {
    while (this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      const claimed = await this.claim("j.id = $3 AND j.state = 'queued'", id);
      if (claimed) return claimed;
    }
    return this.claim(
      "(j.state = 'queued' AND j.created_at <= now() - make_interval(secs => $3)) OR (j.state = 'running' AND (j.lease_until IS NULL OR j.lease_until < now()))",
      this.settings.handoffSeconds ?? 2,
    );
  }

  /** One job matching `where` becomes this replica's, or none: SKIP LOCKED, so two replicas never take the same row. */
  private async claim(where: string, arg: string | number): Promise<string | undefined> {
    const rows = (await this.jobs.query(
      `WITH next AS (
         SELECT j.id FROM reporting_jobs j WHERE ${where} ORDER BY j.created_at LIMIT 1 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE reporting_jobs r SET state = 'running', claimed_by = $1, lease_until = now() + make_interval(secs => $2),
           rows_done = 0, attempts = r.attempts + 1, error = NULL
         FROM next WHERE r.id = next.id RETURNING r.id
       )
       SELECT id FROM claimed`,
      [this.replicaId, this.settings.leaseSeconds ?? 60, arg],
    )) as { id: string }[];
    return rows[0]?.id;
  }

  private start(id: string): void {
    this.running++;
    const lease = this.settings.leaseSeconds ?? 60;
    const heartbeat = setInterval(
      () => {
        this.extendLease(id, lease).catch((err: unknown) =>
          this.logger.warn({ job: id, err: (err as Error).message }, 'lease renewal failed'),
        );
      },
      (lease * 1000) / 4,
    );
    heartbeat.unref();
    const p = this.run(id)
      .catch((err: unknown) => this.logger.warn({ job: id, err: (err as Error).message }, 'reporting job failed'))
      .finally(() => {
        clearInterval(heartbeat);
        this.lost.delete(id);
        this.running--;
        this.inFlight.delete(p);
        this.pump();
      });
    this.inFlight.add(p);
  }

  /** Keeps the claim; a claim another replica took over (this one stalled past its lease) stops the run. */
  private async extendLease(id: string, seconds: number): Promise<void> {
    const rows = (await this.jobs.query(
      `WITH e AS (
         UPDATE reporting_jobs SET lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND claimed_by = $2 AND state = 'running' RETURNING id
       ) SELECT id FROM e`,
      [id, this.replicaId, seconds],
    )) as unknown[];
    if (rows.length === 0) this.lost.add(id);
  }

  /** The job's row as this replica's claim: an update that matches nothing means the claim is gone. */
  private mine(id: string): { id: string; claimedBy: string; state: 'running' } {
    return { id, claimedBy: this.replicaId, state: 'running' };
  }

  /** Between pages: shutdown or a lost claim stops a job's run. */
  private checkRunning(id: string): void {
    if (this.closed) throw new Error('stopped by shutdown; the job runs again at the next start');
    if (this.lost.has(id)) throw new Error('the claim passed to another replica');
  }

  private async run(id: string): Promise<void> {
    const job = await this.jobs.findOneByOrFail({ id });
    try {
      const request = job.request as unknown as StoredRequest;
      // An export the engine writes counts its rows in its plan (exportToEngineFile).
      if (request.kind !== 'export' || !engineFileExport(this.query)) {
        const { total } = await this.query.search(job.tenantId, request.filter, { limit: 1, offset: 0, order: 'desc' });
        await this.jobs.update(this.mine(id), { rowsExpected: String(total) });
      }
      if (request.kind === 'export') await this.runExport(job, request);
      else await this.runReport(job, request);
    } catch (err) {
      // Cut short by shutdown: queued again, for this or another replica (resume).
      if (this.closed) await this.jobs.update(this.mine(id), { state: 'queued', rowsDone: '0', claimedBy: null, leaseUntil: null });
      else if (!this.lost.has(id))
        await this.jobs.update(this.mine(id), { state: 'failed', error: (err as Error).message.slice(0, 1000), finishedAt: new Date() });
      throw err;
    }
  }

  /** The period as events, oldest first, a page at a time. */
  private async *events(job: ReportingJobEntity, filter: EventFilter): AsyncGenerator<StoredAuditEvent> {
    for await (const page of this.pages(job, filter)) yield* page;
  }

  /**
   * The period as pages of events, oldest first (reports that fold every event), at most 10,000 a read.
   */
  private pages(job: ReportingJobEntity, filter: EventFilter): AsyncGenerator<StoredAuditEvent[]> {
    const pageRows = Math.min(this.settings.pageRows ?? EXPORT_PAGE_ROWS, MAX_RANGE_ROWS);
    return this.paged(
      job,
      (after) => this.query.range(job.tenantId, filter, after, pageRows),
      (page) => ({
        rows: page.length,
        next: page.length < pageRows ? null : { timestamp: page[page.length - 1].timestamp, id: page[page.length - 1].id },
      }),
    );
  }

  /**
   * Keyset pages of a job's period, the next page read ahead: the engine's query and the writing overlap (at
   * most two pages in memory). Progress is written after each page; shutdown or a lost claim stops the read.
   */
  private paged<P>(
    job: ReportingJobEntity,
    read: (after: RangeCursor | null) => Promise<P>,
    step: (page: P) => { rows: number; next: RangeCursor | null },
  ): AsyncGenerator<P> {
    const { jobs } = this;
    const checkRunning = (): void => this.checkRunning(job.id);
    const readAhead = (after: RangeCursor | null): Promise<P> => {
      const p = read(after);
      // Awaited below; this only keeps a read left behind by a stopped job from being an unhandled rejection.
      p.catch(() => undefined);
      return p;
    };
    return (async function* () {
      let next: Promise<P> | undefined = readAhead(null);
      let done = 0;
      while (next) {
        checkRunning();
        const page: P = await next;
        const { rows, next: cursor } = step(page);
        next = cursor ? readAhead(cursor) : undefined;
        if (rows > 0) yield page;
        done += rows;
        await jobs.update({ id: job.id }, { rowsDone: String(done) });
      }
    })();
  }

  /**
   * An export. Where the engine runs in this process, it writes the file itself (exportToEngineFile); else
   * pages it wrote in the file's syntax (QueryPort.exportPage: formula neutralisation, quoting and CRLF done
   * in SQL) come over the port, each page one chunk through the file writer, gzip when asked, into the
   * object store, which hashes while it writes. No event object exists in this process either way.
   */
  private async runExport(job: ReportingJobEntity, r: StoredExport): Promise<void> {
    // Read before the rows: the checkpoint cited is never newer than the data the file was computed from.
    const checkpoint = await this.latestCheckpoint(job.tenantId);
    const name = `audit-export-${job.id}.${r.format}${r.compress ? '.gz' : ''}`;
    const key = `exports/${job.tenantId}/${job.id}/${name}`;
    const contentType = r.compress ? 'application/gzip' : CONTENT_TYPES[r.format];
    const engine = engineFileExport(this.query);
    const { info, rows, first, last } = engine
      ? await this.exportToEngineFile(job, r, engine, key, contentType)
      : await this.exportInPages(job, r, key, contentType);
    await this.finish(job, key, name, contentType, info, checkpoint, {
      rows,
      time_range: { first_event: first, last_event: last },
      format: r.format,
      compress: r.compress,
      include_metadata: r.includeMetadata,
    });
  }

  private async exportInPages(job: ReportingJobEntity, r: StoredExport, key: string, contentType: string): Promise<WrittenExport> {
    let rows = 0;
    let first: string | null = null;
    let last: string | null = null;
    const pageRows = this.settings.pageRows ?? EXPORT_PAGE_ROWS;
    const texts = async function* (pages: AsyncGenerator<ExportPage>): AsyncGenerator<string> {
      for await (const page of pages) {
        rows += page.rows;
        first ??= page.first;
        last = page.last;
        yield page.text;
      }
    };
    const source = Readable.from(
      texts(
        this.paged(
          job,
          (after) => this.query.exportPage(job.tenantId, r.filter, r.format, r.includeMetadata, after, pageRows),
          (page) => page,
        ),
      ),
    );
    let body: Readable = source.pipe(new ExportFileWriter(r.format, r.includeMetadata));
    source.on('error', (err) => body.destroy(err));
    if (r.compress) {
      const writer = body;
      body = writer.pipe(createGzip());
      writer.on('error', (err) => body.destroy(err));
    }
    const info = await this.files.put(key, body, { contentType });
    return { info, rows, first, last };
  }

  /**
   * The engine writes the export's file itself (`INTO OUTFILE`, its own CSV writer or the rows' text as
   * RawBLOB, its own gzip), a page of whole hours per statement, at the object store's staging path; this
   * process writes the header or brackets, and hashes each page by reading it back while the engine writes
   * the next. The file becomes the object with `putFile` (a rename for a directory store). Progress is
   * written after each page; shutdown or a lost claim stops the run between pages.
   */
  private async exportToEngineFile(
    job: ReportingJobEntity,
    r: StoredExport,
    engine: EngineFileExport,
    key: string,
    contentType: string,
  ): Promise<WrittenExport> {
    const plan = await engine.planFile(job.tenantId, r.filter, this.settings.filePageRows ?? ENGINE_EXPORT_PAGE_ROWS);
    const expected = plan.reduce((n, p) => n + p.rows, 0);
    await this.jobs.update(this.mine(job.id), { rowsExpected: String(expected) });
    const staging = await this.files.stagingPath(key);
    const file = new GrowingFile(staging, r.compress);
    const partOf = (k: number): string => (r.compress ? `${staging}.${k}` : staging);
    let rows = 0;
    let after: RangeCursor | null = null;
    let prefix = r.format === 'csv' ? csvHeader(r.includeMetadata) : r.format === 'json' ? '[' : '';
    if (r.format === 'json' && plan.length > 0) {
      // The array's first element has no leading comma: it comes through the page path, the rest after it.
      const head = await this.query.exportPage(job.tenantId, r.filter, 'json', r.includeMetadata, null, 1);
      if (head.rows > 0) {
        prefix += head.text.slice(1);
        rows = head.rows;
        after = head.next;
      }
    }
    let pending: Promise<number> | undefined;
    const write = (k: number): Promise<number> => {
      const p = engine.writeFilePage({
        tenantId: job.tenantId,
        filter: r.filter,
        format: r.format,
        includeMetadata: r.includeMetadata,
        page: plan[k],
        after: k === 0 ? after : null,
        path: partOf(k),
        compress: r.compress,
      });
      // Awaited in turn; this only keeps a page left behind by a stopped job from being an unhandled rejection.
      p.catch(() => undefined);
      return p;
    };
    try {
      await file.start(prefix);
      pending = plan.length > 0 ? write(0) : undefined;
      for (let k = 0; k < plan.length; k++) {
        const written = await pending!;
        // Taken before the next page starts appending: the end of this page.
        const end = r.compress ? 0 : (await stat(staging)).size;
        this.checkRunning(job.id);
        pending = k + 1 < plan.length ? write(k + 1) : undefined;
        if (r.compress) await file.appendPart(partOf(k));
        else await file.appended(end);
        await file.flush();
        rows += written;
        // Events that arrived in the period after the plan are in the file too: expected follows.
        await this.jobs.update({ id: job.id }, { rowsDone: String(rows), ...(rows > expected ? { rowsExpected: String(rows) } : {}) });
      }
      const info = await this.files.putFile(key, staging, await file.finish(r.format === 'json' ? (rows > 0 ? '\n]\n' : ']\n') : ''), {
        contentType,
      });
      return { info, rows, first: plan[0]?.first ?? null, last: plan[plan.length - 1]?.last ?? null };
    } catch (e) {
      // The engine's statement in flight ends before its file goes.
      await pending?.catch(() => undefined);
      await Promise.all([rm(staging, { force: true }), ...plan.map((_, k) => (r.compress ? rm(partOf(k), { force: true }) : undefined))]);
      throw e;
    }
  }

  private async runReport(job: ReportingJobEntity, r: StoredReport): Promise<void> {
    const checkpoint = await this.latestCheckpoint(job.tenantId);
    // Asked while the store counts (it never rejects: a failure reads as unavailable).
    const evidence = r.reportType === 'compliance' ? this.capabilityEvidence(job.tenantId, r.filter, checkpoint) : undefined;
    const agg = r.reportType === 'compliance' ? await this.complianceCounts(job, r.filter) : new ReportAggregator();
    if (r.reportType !== 'compliance') for await (const e of this.events(job, r.filter)) agg.add(e);
    const report = buildReport(
      {
        reportId: job.id,
        reportType: r.reportType,
        tenantId: job.tenantId,
        filter: r.filter,
        categories: r.filter.categories,
        generatedAt: new Date().toISOString(),
        warnings: job.warnings,
        ...(await evidence),
      },
      agg,
    );
    const text =
      r.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : r.format === 'csv' ? reportToCsv(report) : reportToHtml(report);
    const name = `audit-${r.reportType}-report-${job.id}.${r.format}`;
    const key = `reports/${job.tenantId}/${job.id}/${name}`;
    const contentType = REPORT_TYPES_FOR[r.format];
    const info = await this.files.put(key, Buffer.from(text, 'utf8'), { contentType });
    await this.finish(job, key, name, contentType, info, checkpoint, {
      rows: agg.total,
      report_type: r.reportType,
      format: r.format,
      summary: report.summary ?? null,
      ...(r.schedule ? { schedule: { id: r.schedule.id, slot: r.schedule.slot } } : {}),
    });
  }

  /** The tenant's latest signed checkpoint; a tenant with none yet reads as null. */
  private latestCheckpoint(tenantId: string): Promise<CheckpointReading> {
    return readPort(this.evidence.integrity(), (p) =>
      p.latestCheckpoint(tenantId).catch((err: unknown) => {
        if (err instanceof NotFoundError || (err as AuditError).code === ErrorCode.NotFound) return null;
        throw err;
      }),
    );
  }

  /** The retention policy in force and the archives of the period, and the integrity state, as the report shows them. */
  private async capabilityEvidence(
    tenantId: string,
    filter: EventFilter,
    checkpoint: CheckpointReading,
  ): Promise<Pick<ReportContext, 'retention' | 'integrity'>> {
    const answers: Reading<RetentionAnswers> = await readPort(this.evidence.retention(), async (p) => {
      const [view, archives] = await Promise.all([p.policyInForce(tenantId), p.listArchives(tenantId)]);
      return { view, archives };
    });
    return {
      retention: retentionEvidence(answers, filter, new Date()),
      integrity: integrityEvidence(checkpoint),
    };
  }

  /**
   * A compliance report reads no event it does not show: one GROUP BY for the counts per control, type, source
   * and day, then the first SAMPLE_ROWS events of each control's types (a small ordered read each).
   */
  private async complianceCounts(job: ReportingJobEntity, filter: EventFilter): Promise<ReportAggregator> {
    const counts = await this.query.reportCounts(job.tenantId, filter);
    const present = new Set(counts.groups.filter((g) => g.events > 0).map((g) => g.event_type));
    const samples = new Map<string, StoredAuditEvent[]>();
    for (const c of CONTROLS) {
      const types = c.eventTypes.filter((t) => present.has(t) && (filter.eventTypes.length === 0 || filter.eventTypes.includes(t)));
      if (types.length === 0) continue;
      samples.set(controlKey(c), await this.query.range(job.tenantId, { ...filter, eventTypes: types }, null, SAMPLE_ROWS));
    }
    await this.jobs.update({ id: job.id }, { rowsDone: String(counts.total) });
    return aggregatorFromCounts(counts, samples);
  }

  private async finish(
    job: ReportingJobEntity,
    key: string,
    name: string,
    contentType: string,
    info: { size: number; sha256: string },
    checkpoint: CheckpointReading,
    extra: Record<string, unknown>,
  ): Promise<void> {
    const absence = checkpointAbsence(checkpoint);
    const finishedAt = new Date();
    const expiresAt = new Date(finishedAt.getTime() + this.settings.fileTtlHours * 3_600_000);
    const request = job.request as unknown as StoredRequest;
    const manifest = {
      manifest_version: 1,
      id: job.id,
      kind: job.kind,
      tenant_id: job.tenantId,
      requested_by: job.requestedBy,
      query: request.body,
      // As the search API's parameters: GET /audit/events with `search` returns the same events.
      filter: searchParamsObject(searchParamsOf(request.filter)),
      search: `/audit/events?${searchParamsOf(request.filter).toString()}`,
      period: {
        start: request.filter.fromUs !== undefined ? formatMicros(request.filter.fromUs) : null,
        end: request.filter.toUs !== undefined ? formatMicros(request.filter.toUs) : null,
      },
      ...extra,
      file: { key, name, content_type: contentType, size: info.size, sha256: info.sha256 },
      warnings: job.warnings,
      // The tenant's latest checkpoint when the file was computed (read before its rows); null says why.
      integrity_checkpoint: manifestCheckpoint(checkpoint),
      ...(absence !== undefined ? { integrity_checkpoint_absent: absence } : {}),
      created_at: job.createdAt.toISOString(),
      completed_at: finishedAt.toISOString(),
      expires_at: expiresAt.toISOString(),
    };
    await this.files.put(manifestKey(job), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { contentType: 'application/json' });
    const res = await this.jobs.update(this.mine(job.id), {
      state: 'done',
      fileKey: key,
      fileName: name,
      contentType,
      fileSize: String(info.size),
      fileSha256: info.sha256,
      manifest: manifest as never,
      rowsDone: String(extra.rows),
      finishedAt,
      expiresAt,
      leaseUntil: null,
    });
    if (!res.affected) throw new Error('the claim passed to another replica before the job finished');
    this.logger.info({ job: job.id, kind: job.kind, rows: extra.rows, bytes: info.size }, 'reporting job done');
  }
}

function manifestKey(job: ReportingJobEntity): string {
  return `${job.kind === 'export' ? 'exports' : 'reports'}/${job.tenantId}/${job.id}/manifest.json`;
}

function view(j: ReportingJobEntity): JobView {
  const base = j.kind === 'export' ? `/audit/exports/${j.id}` : `/audit/reports/${j.id}`;
  return {
    id: j.id,
    kind: j.kind,
    state: j.state,
    progress: { rows_done: Number(j.rowsDone), rows_expected: j.rowsExpected === null ? null : Number(j.rowsExpected) },
    status_url: base,
    download_url: j.state === 'done' ? `${base}/download` : null,
    created_at: new Date(j.createdAt).toISOString(),
    finished_at: j.finishedAt ? new Date(j.finishedAt).toISOString() : null,
    expires_at: j.expiresAt ? new Date(j.expiresAt).toISOString() : null,
    warnings: j.warnings,
    error: j.error,
    file:
      j.state === 'done' && j.fileName && j.fileSha256 && j.fileSize !== null
        ? { name: j.fileName, size: Number(j.fileSize), sha256: j.fileSha256, content_type: j.contentType ?? 'application/octet-stream' }
        : null,
    manifest: j.manifest,
  };
}
