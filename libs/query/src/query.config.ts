import { defineConfigSection, env } from '@app/common';

/** The query capability's own settings (parsed only where it runs: the all-in-one and the query-store). */
export const QUERY_CONFIG = defineConfigSection({
  name: 'query',
  variables: ['AUDIT_QUERY_TIMEOUT_SECONDS'],
  parse: (e) => ({
    /** Every read of the store stops after this (ClickHouse max_execution_time); 0: no limit. */
    queryTimeoutSeconds: env.int(e, 'AUDIT_QUERY_TIMEOUT_SECONDS', 30, 0, 3600),
  }),
});
