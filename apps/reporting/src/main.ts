import 'reflect-metadata';
import { REPORTING_CAPABILITY } from '@app/reporting';
import { runCapabilities } from '@app/runtime';

/**
 * Exports and reports: jobs in Postgres (claimed by one replica at a time), files in the object store
 * (AUDIT_S3_BUCKET, or AUDIT_DATA_DIR/objects), the events read from the
 * query-store and data_exported / report_generated written through the ingest-gateway, over TCP.
 */
runCapabilities('reporting', [REPORTING_CAPABILITY]);
