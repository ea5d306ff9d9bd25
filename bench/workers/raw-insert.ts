import { performance } from 'node:perf_hooks';
import { normalizeEvent, nowMicros, uuidv7 } from '@app/contracts';
import { createClickHouse, DATABASE, EventRow, eventToRow, migrateClickHouse, releaseChdb } from '@app/query';
import { eventBatch } from '../lib/mix';

interface Input {
  dataDir: string;
  batches: number;
  batchSize: number;
}

/**
 * The limit for batch ingest: the same rows the app would store, inserted straight into the same engine with
 * the same DDL (events table, skip indexes and hourly view), one plain JSONEachRow insert per batch.
 * Only the inserts are timed; building each batch's rows is not.
 */
async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_INPUT ?? '{}') as Input;
  const ch = await createClickHouse({ kind: 'chdb', path: `${input.dataDir}/clickhouse` });
  await migrateClickHouse(ch);
  const receivedAtMicros = nowMicros();
  const template: EventRow[] = eventBatch(input.batchSize).map((e, i) => {
    const r = normalizeEvent(e, { tenantId: 'default', receivedAtMicros, trustTenantField: false, ipAddress: '127.0.0.1' });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return eventToRow(r.event, { partition: 0, offset: String(i) });
  });
  let offset = 0;
  const rowsFor = (): EventRow[] => template.map((row) => ({ ...row, id: uuidv7(), log_offset: String(offset++) }));
  // One untimed batch first, as the app also gets a warm-up.
  await ch.insert({ table: `${DATABASE}.events`, values: rowsFor(), format: 'JSONEachRow' });
  let insertMs = 0;
  for (let b = 0; b < input.batches; b++) {
    const values = rowsFor();
    const t0 = performance.now();
    await ch.insert({ table: `${DATABASE}.events`, values, format: 'JSONEachRow' });
    insertMs += performance.now() - t0;
  }
  const rows = input.batches * input.batchSize;
  await ch.close();
  await releaseChdb();
  process.stdout.write(`${JSON.stringify({ rows, insertMs, rowsPerS: rows / (insertMs / 1000) })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
