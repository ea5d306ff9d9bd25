import { performance } from 'node:perf_hooks';
import { normalizeEvent, nowMicros, uuidv7 } from '@app/contracts';
import { createClickHouse, DATABASE, EventRow, eventToRow, insertJsonLines, migrateClickHouse, releaseChdb } from '@app/query';
import { eventBatch } from '../lib/mix';

interface Input {
  dataDir: string;
  batches: number;
  batchSize: number;
  /**
   * client: `@clickhouse/client`'s insert of row objects (JSONEachRow), one at a time: the plain insert the
   * issue names. passthrough: pre-encoded JSON lines through chdb's passthrough insert, `concurrency` at a
   * time: the most this engine takes with this DDL. parse-only: the same into a Null table with the same
   * columns, so only the JSON parsing is left.
   */
  mode: 'client' | 'passthrough' | 'parse-only';
  concurrency?: number;
}

/**
 * The limit for batch ingest: the same rows the app would store, inserted straight into the same engine with
 * the same DDL (events table, skip indexes, projections and hourly view). Only the inserts are timed; building
 * each batch's rows is not.
 */
async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_INPUT ?? '{}') as Input;
  const ch = await createClickHouse({ kind: 'chdb', path: `${input.dataDir}/clickhouse` });
  await migrateClickHouse(ch);
  let table = `${DATABASE}.events`;
  if (input.mode === 'parse-only') {
    table = `${DATABASE}.events_parse_only`;
    await ch.command({ query: `CREATE TABLE ${table} ENGINE = Null AS SELECT * FROM ${DATABASE}.events LIMIT 0` });
  }
  const receivedAtMicros = nowMicros();
  const template: EventRow[] = eventBatch(input.batchSize).map((e, i) => {
    const r = normalizeEvent(e, { tenantId: 'default', receivedAtMicros, trustTenantField: false, ipAddress: '127.0.0.1' });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return eventToRow(r.event, { partition: 0, offset: String(i) });
  });
  let offset = 0;
  const rowsFor = (): EventRow[] => template.map((row) => ({ ...row, id: uuidv7(), log_offset: String(offset++) }));
  const batches = Array.from({ length: input.batches + 1 }, () =>
    input.mode === 'client' ? rowsFor() : rowsFor().map((r) => JSON.stringify(r)),
  );
  const insert = async (batch: EventRow[] | string[]): Promise<void> => {
    if (input.mode === 'client') await ch.insert({ table, values: batch as EventRow[], format: 'JSONEachRow' });
    else await insertJsonLines(ch, table, batch as string[]);
  };
  // One untimed batch first, as the app also gets a warm-up.
  await insert(batches.pop()!);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: input.concurrency ?? 1 }, async () => {
      for (let b = batches.pop(); b !== undefined; b = batches.pop()) await insert(b);
    }),
  );
  const insertMs = performance.now() - t0;
  const rows = input.batches * input.batchSize;
  await ch.close();
  await releaseChdb();
  process.stdout.write(`${JSON.stringify({ rows, insertMs, rowsPerS: rows / (insertMs / 1000) })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
