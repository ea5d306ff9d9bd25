import { INGEST_CAPABILITY } from '@app/ingest';
import { QUERY_CAPABILITY } from '@app/query';
import { RETENTION_CAPABILITY } from '@app/retention';
import { Capability } from '@app/runtime';

/** Every capability: the all-in-one runs them all (and the deployment checks read their settings from here). */
export const ALL_CAPABILITIES: Capability[] = [INGEST_CAPABILITY, QUERY_CAPABILITY, RETENTION_CAPABILITY];
