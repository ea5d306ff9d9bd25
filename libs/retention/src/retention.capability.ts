import { INGEST_PORT_DEFINITION } from '@app/ingest';
import { INTEGRITY_PORT_DEFINITION, IntegrityPort } from '@app/integrity';
import { openObjectStore, S3ObjectStore, STORAGE_CONFIG } from '@app/storage';
import { ArchiveRepository } from './archive.repository';
import { Archiver } from './archiver';
import { QUERY_PORT_DEFINITION } from '@app/query';
import { Capability, ComponentHealth } from '@app/runtime';
import { RETENTION_CONFIG } from './retention.config';
import { RetentionController } from './retention.controller';
import { RETENTION_MIGRATIONS } from './migrations';
import { RETENTION_PORT_DEFINITION, RetentionPort } from './retention.port';
import { RetentionRepository } from './retention.repository';
import { RetentionService } from './retention.service';
import { JobRepository } from './jobs.repository';
import { Counter, Gauge } from 'prom-client';
import type { ArchiveIntegrity } from './archiver';

/** The port resolved on first use: the integrity capability may start after this one in the same process. */
function lazy(get: () => IntegrityPort): ArchiveIntegrity {
  let port: IntegrityPort | undefined;
  const p = (): IntegrityPort => (port ??= get());
  return { leafIndices: (t, ids) => p().leafIndices(t, ids), archiveLeaves: (t, i) => p().archiveLeaves(t, i) };
}

/**
 * Retention: tenants' policies, their delayed changes and legal holds (Postgres), and a scheduled run. It has
 * no consumer: it reads the query store through the query port and writes its audit events through ingest.
 */
export const RETENTION_CAPABILITY: Capability = {
  name: 'retention',
  migrations: RETENTION_MIGRATIONS,
  config: [RETENTION_CONFIG, STORAGE_CONFIG],
  needs: { configStore: true },
  serves: [RETENTION_PORT_DEFINITION],
  controllers: [RetentionController],
  async start(context) {
    const settings = context.settings(RETENTION_CONFIG);
    const ds = context.configStore();
    const query = context.port(QUERY_PORT_DEFINITION);
    // Archives live under AUDIT_DATA_DIR/objects (a volume in Kubernetes) or in the AUDIT_S3_BUCKET bucket.
    const objects = openObjectStore(context.settings(STORAGE_CONFIG), context.config.dataDir);
    if (objects instanceof S3ObjectStore) context.closers.add('object-store', async () => objects.close());
    const registers = [context.metrics.registry];
    const storageErrors = new Counter({
      name: 'audit_retention_storage_errors_total',
      help: 'Object-store failures met by retention jobs (each one pauses the job, which retries after AUDIT_RETENTION_STORAGE_RETRY_SECONDS)',
      registers,
    });
    const lastSuccess = new Gauge({
      name: 'audit_retention_last_success_timestamp_seconds',
      help: 'When a retention job (run or restore) last succeeded, Unix seconds',
      labelNames: ['kind'],
      registers,
    });
    // Integrity learns of each removal before it happens; resolved on first use (over TCP in the distributed
    // mode). A deployment without it names it in AUDIT_CAPABILITIES_OFF; else a removal fails while it does not
    // answer (nothing is deleted unrecorded) and the next run retries.
    const integrityOn = !context.config.capabilitiesOff.includes('integrity');
    let integrity: IntegrityPort | undefined;
    const service = new RetentionService(
      new RetentionRepository(ds),
      query,
      context.port(INGEST_PORT_DEFINITION),
      settings,
      new ArchiveRepository(ds),
      new Archiver(query, objects, {
        // The integrity capability's view goes into each manifest when that capability runs: in this process
        // (embedded, unless AUDIT_CAPABILITIES_OFF names it) or as the integrity service (distributed).
        integrity: integrityOn ? lazy(() => context.port(INTEGRITY_PORT_DEFINITION)) : undefined,
        onIntegrityError: (e) => context.logger.warn({ err: e.message }, 'archive manifest written without the integrity view'),
      }),
      new JobRepository(ds),
      {
        storageError: () => storageErrors.inc(),
        succeeded: (kind, at) => lastSuccess.set({ kind }, at.getTime() / 1000),
      },
      () => (integrityOn ? (integrity ??= context.port(INTEGRITY_PORT_DEFINITION)) : undefined),
    );
    // The gateway's /audit/status shows this as components.retention (the embedded app too): the config store,
    // the object store (answering, and the last error a job met), and when a job last succeeded.
    const health = async (): Promise<ComponentHealth> => {
      const { failure, lastSuccess: last } = service.storageStatus();
      let db = true;
      let dbError: string | undefined;
      try {
        await ds.query('SELECT 1');
      } catch (e) {
        db = false;
        dbError = (e as Error).message;
      }
      const answers = await objects.ping().catch(() => false);
      const storeOk = answers && !failure;
      return {
        ok: db && storeOk,
        detail: {
          config_store: db ? { ok: true } : { ok: false, error: dbError },
          object_store: {
            ok: storeOk,
            kind: objects.kind,
            ...(failure ? { error: failure.message, since: failure.since } : answers ? {} : { error: 'the object store does not answer' }),
          },
          last_success: last,
        },
      };
    };
    const port: RetentionPort = {
      setPolicy: (t, b, a) => service.setPolicy(t, b, a),
      getPolicy: (t) => service.getPolicy(t),
      policyInForce: (t) => service.policyInForce(t),
      cancelChange: (t, id, a) => service.cancelChange(t, id, a),
      placeHold: (t, h, a) => service.placeHold(t, h, a),
      listHolds: (t, r) => service.listHolds(t, r),
      releaseHold: (t, id, a) => service.releaseHold(t, id, a),
      run: (t, a) => service.run(t, a),
      listArchives: (t) => service.listArchives(t),
      restore: (t, id, r, a) => service.restore(t, id, r.identity, r.ttl_days ?? 7, a),
      listJobs: (t) => service.listJobs(t),
      getJob: (t, id) => service.job(t, id),
      health,
    };
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<unknown> = Promise.resolve();
    return {
      bindings: [{ port: RETENTION_PORT_DEFINITION, implementation: port }],
      // Not required: an object store outage pauses archiving (the run fails and is retried next interval), it
      // does not stop the API; /audit/status shows it.
      readiness: [
        { name: 'object_store', required: false, check: async () => ({ ok: await objects.ping(), detail: { kind: objects.kind } }) },
        { name: 'retention', required: false, check: health },
      ],
      describe: {
        change_delay_hours: settings.changeDelayHours,
        interval_minutes: settings.intervalMinutes,
        archive_recipients: settings.archiveRecipients.length,
        object_store: objects.kind,
        ...(settings.fixedClock ? { fixed_clock: settings.now().toISOString() } : {}),
      },
      afterStart: async () => {
        // The worker: runs and restores are jobs in Postgres; it takes queued ones, and running ones whose lease
        // ran out (a process that died mid-job), and redoes them from their stored progress.
        service.startWorker((e) => context.logger.warn({ err: e.message }, 'retention job failed'));
        // The scheduled run: applies the changes whose delay passed, then queues a run for every tenant. Safe to
        // redo: closing a pending change is a conditional UPDATE (one replica applies it), and an archived day
        // has a manifest, so it is not archived again (a redo of an unrecorded one overwrites it).
        timer = setInterval(() => {
          running = service
            .runAll()
            .catch((e: unknown) => context.logger.warn({ err: (e as Error).message }, 'retention run failed; retried next interval'));
        }, settings.intervalMinutes * 60_000);
        timer.unref();
      },
      drain: async () => {
        if (timer) clearInterval(timer);
        await running;
        await service.stopWorker();
      },
    };
  },
};
