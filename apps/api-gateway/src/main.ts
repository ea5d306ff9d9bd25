import 'reflect-metadata';
import { runGateway } from '@app/api';
import { INGEST_CAPABILITY } from '@app/ingest';
import { INTEGRITY_CAPABILITY } from '@app/integrity';
import { QUERY_CAPABILITY } from '@app/query';

/** The public HTTP entry of the distributed mode, in front of each capability's service. */
runGateway([INGEST_CAPABILITY, QUERY_CAPABILITY, INTEGRITY_CAPABILITY]);
