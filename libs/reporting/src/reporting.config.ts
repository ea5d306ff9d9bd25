import { defineConfigSection, env } from '@app/common';

/** The reporting capability's settings (parsed only where it runs: the all-in-one and apps/reporting). */
export const REPORTING_CONFIG = defineConfigSection({
  name: 'reporting',
  variables: ['AUDIT_REPORT_FILE_TTL_HOURS', 'AUDIT_REPORT_MAX_CONCURRENT_JOBS'],
  parse: (e) => ({
    /** An export's or report's file is deleted this long after it was written (WorkOS keeps links 10 min). */
    fileTtlHours: env.int(e, 'AUDIT_REPORT_FILE_TTL_HOURS', 24, 1, 24 * 90),
    /** Jobs run at once per process; more wait queued (each reads the store a page at a time). */
    maxConcurrentJobs: env.int(e, 'AUDIT_REPORT_MAX_CONCURRENT_JOBS', 2, 1, 16),
  }),
});
