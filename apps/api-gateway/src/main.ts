import 'reflect-metadata';
import { ALERTING_CAPABILITY } from '@app/alerting';
import { runGateway } from '@app/api';
import { COMPLETENESS_CAPABILITY } from '@app/completeness';
import { INGEST_CAPABILITY } from '@app/ingest';
import { INTEGRITY_CAPABILITY } from '@app/integrity';
import { QUERY_CAPABILITY } from '@app/query';
import { REPORTING_CAPABILITY } from '@app/reporting';
import { RETENTION_CAPABILITY } from '@app/retention';
import { SIEM_CAPABILITY } from '@app/siem';

/** The public HTTP entry of the distributed mode, in front of each capability's service. */
runGateway([
  INGEST_CAPABILITY,
  QUERY_CAPABILITY,
  REPORTING_CAPABILITY,
  ALERTING_CAPABILITY,
  INTEGRITY_CAPABILITY,
  SIEM_CAPABILITY,
  RETENTION_CAPABILITY,
  COMPLETENESS_CAPABILITY,
]);
