import { ClickHouseClient, createClient } from '@clickhouse/client';
import { schemaStatements } from './schema';

export type ClickHouseTarget = { kind: 'chdb'; path: string } | { kind: 'http'; url: string; username?: string; password?: string };

/**
 * One ClickHouse client for both modes: chdb in-process through `@clickhouse/client`'s connection hook,
 * or a server over HTTP. Only one chdb data directory may be open per process.
 */
export async function createClickHouse(target: ClickHouseTarget): Promise<ClickHouseClient> {
  if (target.kind === 'chdb') {
    // Loaded lazily: the distributed images never open the native engine.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createChdbConnection } = require('chdb/connection') as { createChdbConnection(o: { path: string }): unknown };
    return createClient({ connection: createChdbConnection({ path: target.path }) as never });
  }
  return createClient({
    url: target.url,
    username: target.username,
    password: target.password,
    request_timeout: 60_000,
    keep_alive: { enabled: true, idle_socket_ttl: 2500 },
    clickhouse_settings: { date_time_input_format: 'best_effort' },
  });
}

export async function migrateClickHouse(client: ClickHouseClient): Promise<void> {
  for (const query of schemaStatements()) await client.command({ query });
}

/** Waits for the engine's in-flight work so another data directory can be opened in this process. */
export async function releaseChdb(): Promise<void> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const chdb = require('chdb') as { drainPending?: () => Promise<void> };
    await chdb.drainPending?.();
  } catch {
    // chdb not installed in this image: nothing to release.
  }
}
