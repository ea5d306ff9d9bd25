import 'reflect-metadata';
import { INTEGRITY_CAPABILITY } from '@app/integrity';
import { runCapabilities } from '@app/runtime';

/**
 * The integrity tree (consumer group audit.integrity.v1), its checkpoints and proofs, served to the API
 * gateway over TCP. Its tables are in Postgres (DATABASE_URL); verification reads the query-store's port.
 */
runCapabilities('integrity', [INTEGRITY_CAPABILITY]);
