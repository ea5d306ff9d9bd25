import { ALERTING_CAPABILITY } from '@app/alerting';
import { BACKUP_CAPABILITY } from '@app/backup';
import { COMPLETENESS_CAPABILITY } from '@app/completeness';
import { INGEST_CAPABILITY } from '@app/ingest';
import { INTEGRITY_CAPABILITY } from '@app/integrity';
import { QUERY_CAPABILITY } from '@app/query';
import { REPORTING_CAPABILITY } from '@app/reporting';
import { RETENTION_CAPABILITY } from '@app/retention';
import { SIEM_CAPABILITY } from '@app/siem';
import { Capability } from '@app/runtime';

/** Every capability: the all-in-one runs them all (and the deployment checks read their settings from here). */
// Drains run in this order: integrity's ending checkpoint writes its event while ingest still accepts it.
export const ALL_CAPABILITIES: Capability[] = [
  INTEGRITY_CAPABILITY,
  INGEST_CAPABILITY,
  QUERY_CAPABILITY,
  RETENTION_CAPABILITY,
  REPORTING_CAPABILITY,
  ALERTING_CAPABILITY,
  SIEM_CAPABILITY,
  COMPLETENESS_CAPABILITY,
  BACKUP_CAPABILITY,
];
