import { DataSource, DataSourceOptions, EntitySchema, MixedList } from 'typeorm';
import { PostgresSslConfig } from '@app/common';
import { pgliteThreadDriver, scopeTransactions } from './pglite-thread';
import { postgresSslOptions } from './postgres-ssl';

/** Arbitrary constant naming this product's migration lock in pg_advisory_lock. */
const MIGRATION_LOCK_ID = 7_341_002;

export type PostgresTarget = { kind: 'pglite'; dataDir: string } | { kind: 'pg'; url: string; ssl?: PostgresSslConfig };

export interface PersistenceOptions {
  target: PostgresTarget;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
  /**
   * Called if the store is gone for good: the embedded PGlite's thread died, and every statement fails
   * from then on (it is not reopened in the same process). Postgres reconnects on its own and never calls it.
   */
  onLost?: (e: Error) => void;
}

/**
 * The configuration store: Postgres through `pg`, or PGlite in-process under the same TypeORM postgres
 * dialect. Schema changes only through numbered migrations, run at start-up; never `synchronize`.
 */
export async function createDataSource(options: PersistenceOptions): Promise<DataSource> {
  const common = {
    type: 'postgres' as const,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'audit_migrations',
    synchronize: false,
    logging: false,
  };
  let config: DataSourceOptions;
  if (options.target.kind === 'pglite') {
    // PGlite on a worker thread, behind the `pg` surface TypeORM's postgres driver uses (pglite-thread.ts).
    config = { ...common, driver: pgliteThreadDriver(options.target.dataDir, options.onLost) } as DataSourceOptions;
  } else {
    const ssl = options.target.ssl ? postgresSslOptions(options.target.ssl) : undefined;
    // In `extra`, which TypeORM hands to pg's pool as it is: its own `ssl` is typed for servers, not clients.
    config = { ...common, url: options.target.url, extra: { max: 10, connectionTimeoutMillis: 5000, ...(ssl ? { ssl } : {}) } };
  }
  const ds = new DataSource(config);
  await ds.initialize();
  if (options.target.kind === 'pglite') scopeTransactions(ds.manager);
  if (options.target.kind === 'pg') {
    // Replicas start together: one runs the migrations, the others wait on the lock and find nothing to do.
    const runner = ds.createQueryRunner();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
      await runner.release();
    }
  } else {
    await ds.runMigrations({ transaction: 'each' });
  }
  return ds;
}

export async function pingDataSource(ds: DataSource): Promise<boolean> {
  try {
    await ds.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
