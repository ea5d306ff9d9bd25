import { ConfigError, defineConfigSection, env } from '@app/common';

/** The reporting capability's settings (parsed only where it runs: the all-in-one and apps/reporting). */
export const REPORTING_CONFIG = defineConfigSection({
  name: 'reporting',
  variables: [
    'AUDIT_REPORT_FILE_TTL_HOURS',
    'AUDIT_REPORT_MAX_CONCURRENT_JOBS',
    'AUDIT_REPORT_PAGE_ROWS',
    'AUDIT_EXPORT_FILE_PAGE_ROWS',
    'AUDIT_REPORT_SCHEDULE_TICK_MS',
    'AUDIT_REPORT_SCHEDULE_CLOCK_START',
  ],
  parse: (e) => {
    const clockStart = env.string(e, 'AUDIT_REPORT_SCHEDULE_CLOCK_START');
    const clockStartMs = clockStart === undefined ? undefined : Date.parse(clockStart);
    if (clockStartMs !== undefined && (Number.isNaN(clockStartMs) || !/(Z|[+-]\d\d:\d\d)$/.test(clockStart ?? '')))
      throw new ConfigError(
        'AUDIT_REPORT_SCHEDULE_CLOCK_START',
        'must be an ISO 8601 timestamp with its offset (e.g. 2026-01-01T23:59:58Z)',
      );
    return {
      /** An export's or report's file is deleted this long after it was written (WorkOS keeps links 10 min). */
      fileTtlHours: env.int(e, 'AUDIT_REPORT_FILE_TTL_HOURS', 24, 1, 24 * 90),
      /** Jobs run at once per process; more wait queued (each reads the store a page at a time). */
      maxConcurrentJobs: env.int(e, 'AUDIT_REPORT_MAX_CONCURRENT_JOBS', 2, 1, 16),
      /** Rows per export page the engine writes (one string each); a report's reads of events take at most 10,000. */
      pageRows: env.int(e, 'AUDIT_REPORT_PAGE_ROWS', 20_000, 100, 50_000),
      /**
       * Rows per statement when the engine writes an export's file itself (chdb: the embedded app); it
       * streams them to the file, so nothing of a page is held. Whole hours: a page may hold more.
       */
      filePageRows: env.int(e, 'AUDIT_EXPORT_FILE_PAGE_ROWS', 250_000, 100, 10_000_000),
      /** How often each replica looks for due schedules (they run at minute precision; 10 s is plenty). */
      scheduleTickMs: env.int(e, 'AUDIT_REPORT_SCHEDULE_TICK_MS', 10_000, 100, 600_000),
      /**
       * For tests and drills only: the schedulers' clock starts at this instant at process start and runs at
       * real speed from there (report periods and job timestamps are unaffected). Unset: the real clock.
       */
      scheduleClockStartMs: clockStartMs,
    };
  },
});
