import { INGEST_CAPABILITY } from '@app/ingest';
import { QUERY_CAPABILITY } from '@app/query';
import { Capability } from '@app/runtime';
import { SIEM_CAPABILITY } from '@app/siem';

/** Every capability: the all-in-one runs them all (and the deployment checks read their settings from here). */
export const ALL_CAPABILITIES: Capability[] = [INGEST_CAPABILITY, QUERY_CAPABILITY, SIEM_CAPABILITY];
