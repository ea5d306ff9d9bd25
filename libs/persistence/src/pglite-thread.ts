import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { asBuffer, WorkerRpc } from '@app/common';
import { openPGliteSession, PGliteRequest, PGliteResult } from './pglite-session';

type Session = (request: PGliteRequest) => Promise<unknown>;

/** Structured clone turns Buffers into plain Uint8Arrays; the callers expect Buffers of bytea values. */
function withBuffers(rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  for (const row of rows) {
    for (const key in row) {
      const v = row[key];
      if (v instanceof Uint8Array) row[key] = asBuffer(v);
    }
  }
  return rows;
}

const WORKER_SCRIPT = path.join(__dirname, 'pglite.worker.js');

/**
 * The embedded configuration store's PGlite on a worker thread of its own (pglite.worker.ts). PGlite runs
 * Postgres as WebAssembly on the thread that calls it, so each statement held the thread that serves HTTP
 * and runs the consumers' JavaScript for as long as it ran (an integrity append of 1,000 leaves, an
 * alerting transaction, a job's progress). On its own thread the calling thread only copies parameters and
 * rows across. Run from the TypeScript sources (jest), where there is no compiled worker, it stays on the
 * calling thread.
 */
function openSession(dataDir: string, onLost: (e: Error) => void): { call: Session; close: () => Promise<void> } {
  if (!existsSync(WORKER_SCRIPT)) {
    const call = openPGliteSession(dataDir);
    return { call, close: async () => void (await call({ op: 'close' })) };
  }
  // Not restarted: a thread that died may have left its WebAssembly Postgres anywhere in a write, and a second
  // instance must not open the directory in this process; the owner is told instead (see `onLost` below).
  const rpc = new WorkerRpc<PGliteRequest, unknown>(WORKER_SCRIPT, {
    name: 'PGlite',
    workerData: { dataDir },
    restart: false,
    onFailure: onLost,
  });
  return { call: (request) => rpc.call(request), close: () => rpc.close({ op: 'close' }) };
}

/** The stand-in for autovacuum (SharedSession): ANALYZE and the BRIN summary a minute after start, then every ten. */
const MAINTENANCE_FIRST_MS = 60_000;
const MAINTENANCE_EVERY_MS = 600_000;
/** Every BRIN index's new block ranges summarised: incremental, a few milliseconds per million rows added. */
const SUMMARISE_BRIN = `SELECT brin_summarize_new_values(c.oid) FROM pg_class c JOIN pg_am a ON a.oid = c.relam
  WHERE a.amname = 'brin' AND c.relkind = 'i'`;

/**
 * The one PGlite session of a data directory, shared by every TypeORM query runner of the process, with
 * transactions kept apart: PGlite has one connection, so a statement another caller sent while a
 * transaction was open would run inside it (and, once the transaction had failed, be refused with
 * "current transaction is aborted"). Here a client that starts a transaction owns the session until it
 * commits, rolls back or is released; the others' statements wait for it, in the order they came. One
 * exception: a statement sent from within the transaction's own callback on another runner (the callback
 * awaits work that queries the store outside the transaction, e.g. the completeness consumer writing its
 * finding through the ingest port, whose idempotency lookup uses the store) would wait for a transaction
 * that waits for it. It runs, inside the transaction, as it would have before: the callback's scope is known
 * by `transactionScope` (see `scopeTransactions`).
 */
class SharedSession {
  readonly opened: Promise<unknown>;
  private owner: object | null = null;
  private ownerScope: object | undefined;
  private readonly waiting: Array<() => void> = [];

  private maintainer: NodeJS.Timeout;
  private readonly maintenance = {};
  private readonly session: { call: Session; close: () => Promise<void> };
  /** Told once if the thread dies: every statement fails from then on. */
  readonly lostListeners = new Set<(e: Error) => void>();

  constructor(open: (onLost: (e: Error) => void) => { call: Session; close: () => Promise<void> }) {
    this.session = open((e) => {
      for (const listener of this.lostListeners) listener(e);
    });
    this.opened = this.session.call({ op: 'open' });
    // PGlite runs no autovacuum, so its tables never get statistics on their own, and the planner, guessing,
    // answered lookups by a secondary index with scans of the tenant's every row (a million-leaf verify spent
    // most of its time there). ANALYZE samples each table (about 0.15 s for a million rows, on PGlite's own
    // thread) once a minute after start and then every ten, between transactions like any other statement.
    // The same round summarises the block ranges added to BRIN indexes since the last (what autovacuum's
    // `autosummarize` does on Postgres; a range not yet summarised is read whole, so it is only slower).
    const maintain = () =>
      void this.query(this.maintenance, 'ANALYZE', undefined)
        .then(() => this.query(this.maintenance, SUMMARISE_BRIN, undefined))
        .catch(() => undefined);
    this.maintainer = setTimeout(() => {
      maintain();
      this.maintainer = setInterval(maintain, MAINTENANCE_EVERY_MS).unref();
    }, MAINTENANCE_FIRST_MS).unref();
  }

  async query(client: object, sql: string, params: unknown[] | undefined): Promise<PGliteResult> {
    const scope = transactionScope.getStore();
    while (this.owner !== null && this.owner !== client && (scope === undefined || scope !== this.ownerScope)) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    // ROLLBACK TO SAVEPOINT (a nested transaction TypeORM undoes) leaves the transaction open: not an end.
    const verb = /^\s*ROLLBACK\s+((WORK|TRANSACTION)\s+)?TO\b/i.test(sql)
      ? undefined
      : /^\s*(START TRANSACTION|BEGIN|COMMIT|ROLLBACK|END)\b/i.exec(sql)?.[1].toUpperCase();
    if ((verb === 'START TRANSACTION' || verb === 'BEGIN') && this.owner === null) {
      this.owner = client;
      this.ownerScope = scope;
    }
    try {
      return (await this.session.call({ op: 'query', sql, params })) as PGliteResult;
    } finally {
      if (verb === 'COMMIT' || verb === 'ROLLBACK' || verb === 'END') this.free(client);
    }
  }

  /** A client released inside its transaction (it should not be) rolls it back and frees the session. */
  async release(client: object): Promise<void> {
    if (this.owner !== client) return;
    await this.session.call({ op: 'query', sql: 'ROLLBACK' }).catch(() => undefined);
    this.free(client);
  }

  private free(client: object): void {
    if (this.owner !== client) return;
    this.owner = null;
    this.ownerScope = undefined;
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  dump(): Promise<unknown> {
    return this.session.call({ op: 'dump' });
  }

  close(): Promise<void> {
    clearTimeout(this.maintainer);
    clearInterval(this.maintainer);
    return this.session.close();
  }
}

/** The callback of the transaction being run (see SharedSession): one object per outermost `transaction()` call. */
const transactionScope = new AsyncLocalStorage<object>();

/**
 * Runs every `transaction()` of the data source's manager (DataSource.transaction delegates to it) in a scope
 * of its own. One called from inside another's callback keeps the outer scope: a scope of its own would wait
 * for the outer transaction to end while the outer waits on it (PGlite has one session, so the inner one's
 * statements run in the outer transaction, as nested BEGINs do in Postgres).
 */
export function scopeTransactions(manager: { transaction: (...args: never[]) => Promise<unknown> }): void {
  const original = manager.transaction.bind(manager) as (...args: unknown[]) => Promise<unknown>;
  (manager as { transaction: unknown }).transaction = (...args: unknown[]) =>
    transactionScope.run(transactionScope.getStore() ?? {}, () => original(...args));
}

/** One session per data directory in a process (PGlite allows one instance on a directory). */
const sessions = new Map<string, SharedSession>();

function sessionFor(dataDir: string): SharedSession {
  let s = sessions.get(dataDir);
  if (!s) sessions.set(dataDir, (s = new SharedSession((onLost) => openSession(dataDir, onLost))));
  return s;
}

/** A client of the shared session: what `connect` hands a TypeORM query runner. */
class PGliteClient extends EventEmitter {
  constructor(private readonly session: SharedSession) {
    super();
  }

  query(
    sql: string,
    params?: unknown[] | ((e: Error | null, r: PGliteResult | null) => void),
    callback?: (e: Error | null, r: PGliteResult | null) => void,
  ): Promise<PGliteResult> | undefined {
    const cb = typeof params === 'function' ? params : callback;
    const values = typeof params === 'function' ? undefined : params;
    const run = this.session.query(this, sql, values).then((result) => {
      withBuffers(result.rows);
      return result;
    });
    // As `pg` does: with a callback, the outcome goes to it alone (TypeORM's driver ignores what is returned,
    // so a rejected promise beside the callback would be unhandled and end the process).
    if (!cb) return run;
    run.then(
      (result) => cb(null, result),
      (e: Error) => cb(e, null),
    );
    return undefined;
  }
}

/**
 * The `pg` module's surface that TypeORM's postgres driver uses: `new Pool()`, `connect(cb)` handing out a
 * client of the one session, `query(sql, params, cb)` and `end(cb)`.
 */
export function pgliteThreadDriver(dataDir: string, onLost?: (e: Error) => void): { Pool: new () => EventEmitter } {
  class PGliteThreadPool extends EventEmitter {
    private readonly session = sessionFor(dataDir);
    private readonly client = new PGliteClient(this.session);

    constructor() {
      super();
      if (onLost) this.session.lostListeners.add(onLost);
    }

    connect(callback: (err: Error | null, client: PGliteClient | null, done: () => void) => void): void {
      const client = new PGliteClient(this.session);
      this.session.opened.then(
        () => callback(null, client, () => void this.session.release(client)),
        (e: Error) => callback(e, null, () => undefined),
      );
    }

    query(
      sql: string,
      params?: unknown[],
      callback?: (e: Error | null, r: PGliteResult | null) => void,
    ): Promise<PGliteResult> | undefined {
      return this.client.query(sql, params, callback);
    }

    end(callback?: (e: Error | null) => void): void {
      if (onLost) this.session.lostListeners.delete(onLost);
      if (sessions.get(dataDir) === this.session) sessions.delete(dataDir);
      this.session.close().then(
        () => callback?.(null),
        (e: Error) => callback?.(e),
      );
    }
  }
  return { Pool: PGliteThreadPool };
}

/** PGlite's own consistent dump of its data directory (a tar, gzip), taken while it runs. */
export async function dumpPGlite(dataDir: string): Promise<Blob> {
  const s = sessions.get(dataDir);
  if (!s) throw new Error(`no PGlite is open on ${dataDir}`);
  const bytes = (await s.dump()) as Uint8Array;
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}
