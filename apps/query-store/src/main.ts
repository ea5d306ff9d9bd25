import 'reflect-metadata';
import { QUERY_CAPABILITY } from '@app/query';
import { runCapabilities } from '@app/runtime';

/**
 * Projects audit.events.v1 into ClickHouse (a server over CLICKHOUSE_URL, else chdb under AUDIT_DATA_DIR) and
 * answers the API gateway's queries over TCP. Offsets are committed only after the insert.
 */
runCapabilities('query-store', [QUERY_CAPABILITY]);
