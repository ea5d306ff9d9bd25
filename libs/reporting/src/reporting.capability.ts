import { ALERTING_PORT_DEFINITION, AlertingPort } from '@app/alerting';
import { INGEST_PORT_DEFINITION } from '@app/ingest';
import { INTEGRITY_PORT_DEFINITION, IntegrityPort } from '@app/integrity';
import { QUERY_PORT_DEFINITION } from '@app/query';
import { RETENTION_PORT_DEFINITION, RetentionPort } from '@app/retention';
import { Capability } from '@app/runtime';
import { openObjectStore, S3ObjectStore, STORAGE_CONFIG } from '@app/storage';
import { ReportingController } from './reporting.controller';
import { REPORTING_MIGRATIONS, ReportingJobEntity } from './reporting-job.entity';
import { REPORTING_CONFIG } from './reporting.config';
import { REPORTING_PORT_DEFINITION } from './reporting.port';
import { ReportingService } from './reporting.service';
import { CreateReportSchedules1765324800002 } from './report-schedule.migrations';
import { ReportSchedules } from './report-schedules.service';

/** How often finished jobs past their expiry lose their files. */
const EXPIRY_SWEEP_MS = 10 * 60_000;

/**
 * Exports and reports: jobs in the configuration store (reporting_jobs, claimed by one replica at a time),
 * files in the shared object store (the storage port, as retention's archives: AUDIT_DATA_DIR/objects, or the
 * AUDIT_S3_BUCKET bucket, which lets several replicas share them), the events read through the query port a
 * page at a time, and data_exported / report_generated written through the ingest port.
 */
export const REPORTING_CAPABILITY: Capability = {
  name: 'reporting',
  entities: [ReportingJobEntity],
  migrations: [...REPORTING_MIGRATIONS, CreateReportSchedules1765324800002],
  needs: { configStore: true },
  config: [REPORTING_CONFIG, STORAGE_CONFIG],
  serves: [REPORTING_PORT_DEFINITION],
  controllers: [ReportingController],
  async start(context) {
    const settings = context.settings(REPORTING_CONFIG);
    const files = openObjectStore(context.settings(STORAGE_CONFIG), context.config.dataDir);
    // What a compliance report and a manifest cite: resolved on first use, as alerting below; a capability
    // named in AUDIT_CAPABILITIES_OFF reads as "capability off".
    const on = (name: string): boolean => !context.config.capabilitiesOff.includes(name);
    let retention: RetentionPort | undefined;
    let integrity: IntegrityPort | undefined;
    if (files instanceof S3ObjectStore) context.closers.add('report-files', async () => files.close());
    const service = new ReportingService(
      context.configStore().getRepository(ReportingJobEntity),
      context.port(QUERY_PORT_DEFINITION),
      context.port(INGEST_PORT_DEFINITION),
      files,
      settings,
      context.logger,
      {
        retention: () => (on('retention') ? (retention ??= context.port(RETENTION_PORT_DEFINITION)) : undefined),
        integrity: () => (on('integrity') ? (integrity ??= context.port(INTEGRITY_PORT_DEFINITION)) : undefined),
      },
    );
    // An injected clock (tests and drills) reads its start until the service has started, then runs at real
    // speed from there: the time the rest of the boot takes does not eat into the margin it was set with.
    let started: number | undefined;
    const clockStart = settings.scheduleClockStartMs;
    let alerting: AlertingPort | undefined;
    const schedules = new ReportSchedules(
      context.configStore(),
      service,
      // Resolved on first use: in the embedded app alerting is bound by then; elsewhere it is a TCP client.
      () => (alerting ??= context.port(ALERTING_PORT_DEFINITION)),
      context.port(INGEST_PORT_DEFINITION),
      clockStart === undefined ? () => Date.now() : () => clockStart + (started === undefined ? 0 : Date.now() - started),
      context.logger,
    );
    service.schedules = schedules;
    let sweep: NodeJS.Timeout | undefined;
    context.closers.add('reporting', async () => {
      if (sweep) clearInterval(sweep);
      await schedules.close();
      await service.close();
    });
    return {
      bindings: [{ port: REPORTING_PORT_DEFINITION, implementation: service }],
      readiness: [{ name: 'report_files', check: () => service.health() }],
      describe: {
        files: files.kind,
        file_ttl_hours: settings.fileTtlHours,
        max_concurrent_jobs: settings.maxConcurrentJobs,
        schedule_tick_ms: settings.scheduleTickMs,
        ...(clockStart !== undefined ? { schedule_clock_start: new Date(clockStart).toISOString() } : {}),
      },
      afterStart: async () => {
        await service.resume();
        await service.expire();
        started = Date.now();
        schedules.start(settings.scheduleTickMs);
        sweep = setInterval(() => {
          service.expire().catch((err: unknown) => context.logger.warn({ err: (err as Error).message }, 'expiring report files failed'));
        }, EXPIRY_SWEEP_MS);
        sweep.unref();
      },
      drain: async () => {
        await schedules.close();
        await service.close();
      },
    };
  },
};
