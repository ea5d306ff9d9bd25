import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import type * as Persistence from '../../libs/persistence/src';

// The built module (global setup builds dist/): PGlite cannot start inside jest's VM (it imports its
// WebAssembly dynamically), but on the built code's worker thread it runs as in the app.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createDataSource, dumpPGlite } = require('../../dist/libs/persistence/src') as typeof Persistence;

/** A promise and the function that resolves it: one side of a test waits for the other to reach a point. */
function signal(): [Promise<void>, () => void] {
  let resolve!: () => void;
  const p = new Promise<void>((r) => (resolve = r));
  return [p, resolve];
}

describe('the embedded configuration store (PGlite on its worker thread, behind the pg surface)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pglite-thread-'));
  let ds: DataSource;

  beforeAll(async () => {
    ds = await createDataSource({ target: { kind: 'pglite', dataDir: dir }, entities: [], migrations: [] });
    await ds.query('CREATE TABLE t (id int PRIMARY KEY, b bytea)');
  });

  afterAll(async () => {
    await ds.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should keep another caller out of an open transaction, even one that fails', async () => {
    const [isOpen, opened] = signal();
    const [gate, proceed] = signal();
    const tx = ds.transaction(async (m) => {
      await m.query('INSERT INTO t (id) VALUES (1)');
      opened();
      await gate;
      await m.query('INSERT INTO t (id) VALUES (1)');
    });
    await isOpen;
    // Sent by another caller while the transaction is open: it must neither run inside it nor see its row.
    const outside = ds.query('SELECT count(*)::int AS n FROM t');
    proceed();
    await expect(tx).rejects.toThrow(/duplicate key/);
    expect(await outside).toEqual([{ n: 0 }]);
  });

  it('should run a query the transaction callback itself awaits on another runner, instead of waiting for itself', async () => {
    const seen = await ds.transaction(async (m) => {
      await m.query('INSERT INTO t (id) VALUES (10)');
      // Another runner (not the transaction's manager), awaited by the callback: inside the transaction.
      return ds.query('SELECT count(*)::int AS n FROM t WHERE id = 10');
    });
    expect(seen).toEqual([{ n: 1 }]);
  });

  it('should keep the session through a savepoint rolled back, and not hang on a transaction begun inside one', async () => {
    const [isOpen, opened] = signal();
    const [gate, proceed] = signal();
    const tx = ds.transaction(async (m) => {
      await m.query('INSERT INTO t (id) VALUES (20)');
      // A nested transaction of the same manager is a savepoint; its failure rolls back to it, not the whole.
      await expect(
        m.transaction(async (inner) => {
          await inner.query('INSERT INTO t (id) VALUES (21)');
          throw new Error('undo the inner part');
        }),
      ).rejects.toThrow('undo the inner part');
      // One begun from the data source inside the callback: waiting on the outer one would never end.
      await ds.transaction((other) => other.query('INSERT INTO t (id) VALUES (22)'));
      opened();
      await gate;
      await m.query('INSERT INTO t (id) VALUES (23)');
    });
    await isOpen;
    // Another caller meanwhile still waits for the outer transaction: the savepoint's rollback did not end it.
    const outside = ds.query('SELECT count(*)::int AS n FROM t WHERE id BETWEEN 20 AND 29');
    await new Promise((r) => setTimeout(r, 100));
    proceed();
    await tx;
    expect(await outside).toEqual([{ n: 3 }]);
    expect(await ds.query('SELECT id FROM t WHERE id BETWEEN 20 AND 29 ORDER BY id')).toEqual([{ id: 20 }, { id: 22 }, { id: 23 }]);
  });

  it('should answer a callback query through its callback alone, also when it fails', async () => {
    const driver = (ds.driver as unknown as { master: { query: (...a: unknown[]) => unknown } }).master;
    const outcome = await new Promise<{ returned: unknown; err: Error | null }>((resolve) => {
      const returned = driver.query('SELECT * FROM no_such_table', [], (err: Error | null) => resolve({ returned, err }));
    });
    expect(outcome.returned).toBeUndefined();
    expect(outcome.err?.message).toMatch(/no_such_table/);
  });

  it('should carry a database error with its SQLSTATE and constraint', async () => {
    await ds.query('INSERT INTO t (id) VALUES (2)');
    await expect(ds.query('INSERT INTO t (id) VALUES (2)')).rejects.toMatchObject({ code: '23505', constraint: 't_pkey' });
  });

  it('should answer bytea as Buffers and UPDATE with its row count', async () => {
    await ds.query('INSERT INTO t (id, b) VALUES (3, $1)', [Buffer.from('abc')]);
    const [row] = (await ds.query('SELECT b FROM t WHERE id = $1', [3])) as Array<{ b: Buffer }>;
    expect(Buffer.isBuffer(row.b)).toBe(true);
    expect(row.b.toString()).toBe('abc');
    expect(await ds.query('UPDATE t SET b = NULL WHERE id = ANY($1)', [[2, 3]])).toEqual([[], 2]);
  });

  it('should dump the data directory while open', async () => {
    const dump = await dumpPGlite(dir);
    expect(dump.size).toBeGreaterThan(1000);
  });
});
