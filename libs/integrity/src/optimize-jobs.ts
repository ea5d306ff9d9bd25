import { randomUUID } from 'node:crypto';
import { InProgressError, NotFoundError } from '@app/contracts';

/** The phases of an optimisation, in order: the store's (merges, roll-up reconcile), then the ingest side's. */
export const OPTIMIZE_PHASES = ['store', 'idempotency_keys'] as const;
export type OptimizePhase = (typeof OPTIMIZE_PHASES)[number];

export interface OptimizeJobView<R> {
  id: string;
  state: 'running' | 'done' | 'failed';
  status_url: string;
  progress: { phases_done: number; phases_total: number; phase: OptimizePhase | null };
  started_at: string;
  finished_at: string | null;
  /** What was done (the answer of a finished run), null until then. */
  result: R | null;
  error: string | null;
}

/** Finished runs kept for their status URL; older ones go. */
const KEEP = 20;

/**
 * `POST /audit/optimize` as a background job of this API process: one at a time (a second request while one
 * runs is a 409 naming it), its progress by phase, and the last KEEP runs kept in memory for their status
 * URL. In memory only, on purpose: every step is idempotent (a merge of merged parts, a reconcile of
 * reconciled buckets, a delete of keys already gone), so a run lost with its process is simply asked again,
 * and its `admin_action` events are the durable record. With several gateway replicas a run's status is
 * answered by the replica that started it.
 */
export class OptimizeJobs<R> {
  private readonly jobs = new Map<string, OptimizeJobView<R>>();
  private running: OptimizeJobView<R> | undefined;

  /** Starts `run`, which reports each phase as it begins; answers the job as it is at once. */
  start(run: (phase: (p: OptimizePhase) => void) => Promise<R>, onEnd: (job: OptimizeJobView<R>) => void): OptimizeJobView<R> {
    if (this.running) throw new InProgressError(`an optimisation is running: ${this.running.status_url}`);
    const id = randomUUID();
    const job: OptimizeJobView<R> = {
      id,
      state: 'running',
      status_url: `/audit/optimize/jobs/${id}`,
      progress: { phases_done: 0, phases_total: OPTIMIZE_PHASES.length, phase: null },
      started_at: new Date().toISOString(),
      finished_at: null,
      result: null,
      error: null,
    };
    this.running = job;
    this.jobs.set(id, job);
    for (const old of [...this.jobs.keys()].slice(0, Math.max(0, this.jobs.size - KEEP))) this.jobs.delete(old);
    const phase = (p: OptimizePhase): void => {
      job.progress = { ...job.progress, phases_done: OPTIMIZE_PHASES.indexOf(p), phase: p };
    };
    void run(phase)
      .then(
        (result) => {
          job.result = result;
          job.state = 'done';
          job.progress = { ...job.progress, phases_done: OPTIMIZE_PHASES.length, phase: null };
        },
        (e: unknown) => {
          job.state = 'failed';
          job.error = (e as Error).message ?? String(e);
        },
      )
      .finally(() => {
        job.finished_at = new Date().toISOString();
        this.running = undefined;
        onEnd(job);
      });
    return { ...job };
  }

  get(id: string): OptimizeJobView<R> {
    const job = this.jobs.get(id);
    if (!job) throw new NotFoundError(`no optimisation ${id.slice(0, 64)} in this process (runs are kept in memory, the last ${KEEP})`);
    return { ...job };
  }

  /** Resolves when no run is in progress (tests, shutdown). */
  get idle(): boolean {
    return this.running === undefined;
  }
}
