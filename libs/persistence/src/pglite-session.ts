import type { PGlite } from '@electric-sql/pglite';

/** A request to the embedded configuration store's PGlite, on whichever thread it runs (pglite-thread.ts). */
export type PGliteRequest = { op: 'open' } | { op: 'query'; sql: string; params?: unknown[] } | { op: 'dump' } | { op: 'close' };

/** What TypeORM's postgres driver reads of a result (as PGlite answers it). */
export interface PGliteResult {
  rows: Array<Record<string, unknown>>;
  fields?: Array<{ name: string; dataTypeID: number }>;
  /** UPDATE, DELETE...: with `rowCount`, what TypeORM reads for `affected`. */
  command?: string;
  rowCount?: number;
  affectedRows?: number;
}

/** The fields of a PGlite result TypeORM reads, as plain data (the result object itself may hold more). */
function plainResult(r: PGliteResult): PGliteResult {
  return { rows: r.rows, fields: r.fields, command: r.command, rowCount: r.rowCount, affectedRows: r.affectedRows };
}

// As typeorm-pglite's driver did: TypeORM sends booleans as true/false, 1/0 or their strings.
function boolSerializer(val: unknown): string {
  if (val === true || val === 'true' || val === 1) return 'TRUE';
  if (val === false || val === 'false' || val === 0) return 'FALSE';
  return String(val);
}

/**
 * One PGlite instance on a data directory and the requests it answers, in the order they come (one session:
 * a transaction's statements must run in order on it). A query without parameters may hold several
 * statements (migrations); the last one's result is returned, as TypeORM expects.
 */
export function openPGliteSession(dataDir: string): (request: PGliteRequest) => Promise<PGliteResult | Uint8Array | null> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PGlite: Engine, types } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
  const ready: Promise<PGlite> = Engine.create({ dataDir, serializers: { [types.BOOL]: boolSerializer } });
  let chain: Promise<unknown> = Promise.resolve();
  const run = async (request: PGliteRequest): Promise<PGliteResult | Uint8Array | null> => {
    const db = await ready;
    switch (request.op) {
      case 'open':
        return null;
      case 'query': {
        if (request.params !== undefined && request.params.length > 0) {
          return plainResult(await db.query<Record<string, unknown>>(request.sql, request.params));
        }
        const results = await db.exec(request.sql);
        const r = results[results.length - 1] as PGliteResult | undefined;
        return r ? plainResult(r) : { rows: [] };
      }
      case 'dump':
        return new Uint8Array(await (await db.dumpDataDir('gzip')).arrayBuffer());
      case 'close':
        await db.close();
        return null;
    }
  };
  return (request) => {
    const next = chain.then(() => run(request));
    chain = next.catch(() => undefined);
    return next;
  };
}
