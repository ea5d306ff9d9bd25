import 'reflect-metadata';
import { runGateway } from '@app/api';
import { INGEST_CAPABILITY } from '@app/ingest';
import { QUERY_CAPABILITY } from '@app/query';
import { SIEM_CAPABILITY } from '@app/siem';

/** The public HTTP entry of the distributed mode, in front of each capability's service. */
runGateway([INGEST_CAPABILITY, QUERY_CAPABILITY, SIEM_CAPABILITY]);
