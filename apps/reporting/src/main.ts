import 'reflect-metadata';
import { REPORTING_CAPABILITY } from '@app/reporting';
import { runCapabilities } from '@app/runtime';

/**
 * Exports and reports: jobs in Postgres, files under AUDIT_DATA_DIR/files (a volume), the events read from the
 * query-store and data_exported / report_generated written through the ingest-gateway, over TCP.
 */
runCapabilities('reporting', [REPORTING_CAPABILITY]);
