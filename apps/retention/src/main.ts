import 'reflect-metadata';
import { RETENTION_CAPABILITY } from '@app/retention';
import { runCapabilities } from '@app/runtime';

/**
 * Retention policies, their delayed changes and legal holds (Postgres), and the scheduled run; it reads the
 * query store through the query-store's port and writes its audit events through the ingest-gateway.
 */
runCapabilities('retention', [RETENTION_CAPABILITY]);
