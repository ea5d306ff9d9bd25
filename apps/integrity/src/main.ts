import 'reflect-metadata';
import { COMPLETENESS_CAPABILITY } from '@app/completeness';
import { INTEGRITY_CAPABILITY } from '@app/integrity';
import { runCapabilities } from '@app/runtime';

/**
 * The integrity tree (consumer group audit.integrity.v1), its checkpoints and proofs, served to the API
 * gateway over TCP; and the completeness tracker (consumer group audit.completeness.v1) on the same address. Its tables are in Postgres (DATABASE_URL); verification reads the query-store's port.
 */
runCapabilities('integrity', [INTEGRITY_CAPABILITY, COMPLETENESS_CAPABILITY]);
