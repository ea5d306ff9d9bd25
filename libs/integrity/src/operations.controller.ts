import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScope, requestInfo, SelfAuditService } from '@app/api';
import { InvalidQueryError, unknownFields, ValidationError } from '@app/contracts';
import { INGEST_PORT, IngestPort } from '@app/ingest';
import { OptimizePlan, QUERY_PORT, QueryPort } from '@app/query';
import { Metrics } from '@app/runtime';
import { OptimizeJobs, OptimizeJobView, OptimizePhase } from './optimize-jobs';

interface Bucket {
  le: number;
  count: number;
}

/** p-quantile of a Prometheus histogram's cumulative buckets (the bucket's upper bound, as histogram_quantile). */
export function quantile(buckets: Bucket[], p: number): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = p * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      // Linear inside the bucket, like PromQL's histogram_quantile.
      return b.count === prevCount ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

const START = Date.now();

/** These endpoints take no parameters: anything given is refused rather than silently ignored. */
function noQuery(query: Record<string, unknown> | undefined): void {
  const unknown = unknownFields(query ?? {}, []);
  if (unknown.length > 0) throw new InvalidQueryError(`unknown query parameter ${unknown[0].field}`, unknown);
}

function noBody(body: unknown): void {
  if (body === undefined || body === null) return;
  if (typeof body !== 'object' || Array.isArray(body))
    throw new ValidationError('the body must be empty or {}', [{ field: '/', message: 'must be {}' }]);
  const unknown = unknownFields(body, [], '/');
  if (unknown.length > 0) throw new ValidationError(`${unknown[0].field}: ${unknown[0].message}`, unknown);
}

/**
 * The guide's operations endpoints. `GET /audit/optimize` only answers what an optimisation would do: a GET
 * must be safe to repeat, to prefetch and to crawl (RFC 9110 §9.2.1), and a forced merge rewrites the whole
 * table, so the guide's curl is a dry run; `POST /audit/optimize` does it, as an audited admin action, in the
 * background (OptimizeJobs): 202 at once, its progress at `GET /audit/optimize/jobs/:id`.
 */
@ApiTags('operations')
@Controller('audit')
export class OperationsController {
  constructor(
    @Inject(QUERY_PORT) private readonly query: QueryPort,
    @Inject(INGEST_PORT) private readonly ingest: IngestPort,
    private readonly metrics: Metrics,
    private readonly selfAudit: SelfAuditService,
  ) {}

  /** POST /audit/optimize's runs, in this process. */
  private readonly jobs = new OptimizeJobs<OptimizeAnswer>();

  @Get('performance')
  @RequireScope('admin')
  @ApiOperation({
    summary:
      'Store size on disk and compression per table (rows, parts), ingest rate and query latency percentiles from this process, consumer lag per group, log size and hot window',
  })
  async performance(@Query() query?: Record<string, unknown>): Promise<unknown> {
    noQuery(query);
    const [store, ingested, durations] = await Promise.all([
      this.query.performance(),
      this.metrics.eventsIngested.get(),
      this.metrics.httpDuration.get(),
    ]);
    const accepted = ingested.values.filter((v) => v.labels.status === 'accepted').reduce((n, v) => n + v.value, 0);
    const uptime = (Date.now() - START) / 1000;
    // Query latency: the reads of the log (search, one event, statistics), as this API process measured them.
    const buckets = new Map<number, number>();
    for (const v of durations.values) {
      const route = String(v.labels.route ?? '');
      if (v.metricName !== 'audit_http_request_duration_seconds_bucket' || v.labels.method !== 'GET') continue;
      if (!route.startsWith('/audit/events') && !route.startsWith('/audit/statistics')) continue;
      const leLabel = (v.labels as Record<string, string | number | undefined>).le;
      const le = leLabel === '+Inf' ? Infinity : Number(leLabel);
      buckets.set(le, (buckets.get(le) ?? 0) + v.value);
    }
    const b = [...buckets].map(([le, count]) => ({ le, count }));
    const ms = (p: number) => {
      const q = quantile(b, p);
      return q === null ? null : Math.round(q * 1000 * 100) / 100;
    };
    return {
      store,
      ingest: {
        events_accepted: accepted,
        events_per_second: uptime > 0 ? Math.round((accepted / uptime) * 100) / 100 : 0,
        since: new Date(START).toISOString(),
      },
      query_latency_ms: { requests: b.find((x) => x.le === Infinity)?.count ?? 0, p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) },
    };
  }

  @Get('optimize')
  @RequireScope('admin')
  @ApiOperation({
    summary: 'Dry run: what an optimisation would do (merges, roll-up reconcile, expiring idempotency keys); changes nothing',
  })
  optimizePlan(@Query() query?: Record<string, unknown>): Promise<OptimizeAnswer> {
    noQuery(query);
    return this.plan(false);
  }

  @Post('optimize')
  @HttpCode(202)
  @RequireScope('admin')
  @ApiOperation({
    summary:
      'Starts the optimisation (merges, roll-up reconcile, expiring idempotency keys) as a background job: 202 with its status URL; one at a time (409 while one runs); an audited admin action',
  })
  optimize(
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Query() query?: Record<string, unknown>,
    @Body() body?: unknown,
  ): OptimizeJobView<OptimizeAnswer> {
    noQuery(query);
    noBody(body);
    const info = requestInfo(req);
    const record = (description: string, metadata: Record<string, string | number>): void =>
      this.selfAudit.record({
        tenantId: info.tenantId,
        eventType: 'admin_action',
        description,
        ipAddress: info.ipAddress,
        userAgent: info.userAgent,
        metadata: { action: 'optimize', key_id: info.principal.keyId, ...metadata },
      });
    const job = this.jobs.start(
      (phase) => this.plan(true, phase),
      (j) => {
        const done = j.result?.done;
        record(j.state === 'done' ? 'optimised the audit store' : 'optimising the audit store failed', {
          job_id: j.id,
          outcome: j.state,
          merged_tables: done?.merged.join(',') ?? '',
          rebuilt_buckets: done?.rebuilt_buckets.length ?? 0,
          expired_idempotency_keys: done?.expired_idempotency_keys ?? 0,
          ...(j.error ? { error: j.error.slice(0, 500) } : {}),
        });
      },
    );
    record('started an optimisation of the audit store', { job_id: job.id, outcome: 'started' });
    void reply.header('location', job.status_url);
    return job;
  }

  @Get('optimize/jobs/:id')
  @RequireScope('admin')
  @ApiOperation({ summary: 'An optimisation started by POST /audit/optimize: its state, progress by phase, and what it did' })
  optimizeJob(@Param('id') id: string, @Query() query?: Record<string, unknown>): OptimizeJobView<OptimizeAnswer> {
    noQuery(query);
    return this.jobs.get(id);
  }

  /**
   * The store's plan (and with `apply` its run) and the ingest side's idempotency keys past their window: the
   * timer deletes them hourly; here they go at once. The store's steps run first, as before.
   */
  private async plan(apply: boolean, phase: (p: OptimizePhase) => void = () => undefined): Promise<OptimizeAnswer> {
    phase('store');
    const store = await this.query.optimize(apply);
    phase('idempotency_keys');
    const keys = await this.ingest.expireIdempotencyKeys(apply);
    const action: OptimizeAnswer['actions'][number] = {
      action: 'expire_idempotency_keys',
      reason:
        keys.window_hours === null
          ? 'skipped: this deployment keeps no idempotency keys'
          : `${keys.expired} idempotency key(s) older than their ${keys.window_hours} h window ${apply ? 'were' : 'would be'} deleted (a retry after the window is a new event anyway; the hourly timer does the same)`,
    };
    const { done, actions, ...rest } = store;
    return {
      ...rest,
      actions: [...actions, action],
      ...(done ? { done: { ...done, expired_idempotency_keys: keys.expired } } : {}),
    };
  }
}

/** The store's plan, with the ingest side's step: the idempotency keys past their window. */
export type OptimizeAnswer = Omit<OptimizePlan, 'actions' | 'done'> & {
  actions: Array<OptimizePlan['actions'][number] | { action: 'expire_idempotency_keys'; reason: string }>;
  done?: NonNullable<OptimizePlan['done']> & { expired_idempotency_keys: number };
};
