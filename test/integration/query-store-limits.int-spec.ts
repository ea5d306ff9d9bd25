import { ClickHouseClient } from '@clickhouse/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { nowMicros } from '@app/contracts';
import {
  clickHouseErrorCode,
  createClickHouse,
  EventStoreRepository,
  migrateClickHouse,
  parseEventFilter,
  releaseChdb,
  StoreQueries,
} from '@app/query';

/** Seconds of work for the engine, whatever the store holds. */
const SLOW = 'SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1';

describe('Time limits and cancellation of store queries on the chdb engine', () => {
  let dir: string;
  let ch: ClickHouseClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-limits-'));
    ch = await createClickHouse({ kind: 'chdb', path: path.join(dir, 'ch') });
    await migrateClickHouse(ch);
  });

  afterAll(async () => {
    await ch.close();
    await releaseChdb();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should stop a read at the time limit with TIMEOUT_EXCEEDED', async () => {
    const started = Date.now();
    const error: unknown = await new StoreQueries(ch, { queryTimeoutSeconds: 1 }).rows(SLOW).catch((e: unknown) => e);
    expect(clickHouseErrorCode(error)).toBe(159);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('should reject a read when its signal aborts, and a search whose client already went away', async () => {
    const q = new StoreQueries(ch, { queryTimeoutSeconds: 2 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const started = Date.now();
    await expect(q.rows(SLOW, {}, ac.signal)).rejects.toThrow(/abort/i);
    expect(Date.now() - started).toBeLessThan(1500);

    const store = new EventStoreRepository(ch, { queryTimeoutSeconds: 2 });
    const { filter, page } = parseEventFilter({}, nowMicros());
    const gone = AbortSignal.abort();
    await expect(store.search('default', filter, page, { signal: gone })).rejects.toThrow(/abort/i);
    await expect(store.statistics('default', nowMicros(), { signal: gone })).rejects.toThrow(/abort/i);
    // chdb rejects an aborted query at once but cannot stop it: the engine computes on until the time limit
    // (measured: the next query here waits about the 2 s), so on chdb the limit is what bounds an abandoned query.
    await expect(store.search('default', filter, page)).resolves.toEqual({ events: [], total: 0 });
  });
});
