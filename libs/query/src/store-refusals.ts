import { BusBatch, BusRecord, OutgoingRecord } from '@app/event-bus';
import { dlqRecord } from '@app/event-bus';
import { EncodedRow } from './projector';
import { StoreRefusal } from './store-errors';

/** The DLQ error code of a record whose row the query store refused (the message holds the store's error). */
export const STORE_REFUSED = 'store_refused';

/** What the query store refused so far in this process, for /audit/status. */
export interface StoreRefusalsSummary {
  rows_refused: number;
  last_refusal: { at: string; id: string; partition: number; offset: string; code: string; reason: string } | null;
}

/** The records of `batch` whose rows (`rows`, as handed to StoreWriter.write) the store refused. */
function refusedRecords(
  batch: BusBatch,
  rows: EncodedRow[],
  refusals: StoreRefusal[],
): Array<{ row: EncodedRow; record: BusRecord; refusal: StoreRefusal }> {
  const byOffset = new Map(batch.records.map((r) => [r.offset, r]));
  return refusals.map((refusal) => {
    const row = rows[refusal.index];
    const record = byOffset.get(row.offset);
    if (record === undefined) throw new Error(`refused row ${row.id} has no record at offset ${row.offset} of the batch`);
    return { row, record, refusal };
  });
}

/** Those records as DLQ records, with the store's error (its code's name first) as the reason. */
export function storeRefusedRecords(batch: BusBatch, rows: EncodedRow[], refusals: StoreRefusal[]): OutgoingRecord[] {
  return refusedRecords(batch, rows, refusals).map(({ record, refusal }) =>
    dlqRecord(record, STORE_REFUSED, `${refusal.code}: ${refusal.reason}`),
  );
}

/** Counts the refusals in `summary`, once they are in the DLQ. */
export function noteStoreRefusals(summary: StoreRefusalsSummary, batch: BusBatch, rows: EncodedRow[], refusals: StoreRefusal[]): void {
  for (const { row, record, refusal } of refusedRecords(batch, rows, refusals)) {
    summary.rows_refused++;
    summary.last_refusal = {
      at: new Date().toISOString(),
      id: row.id,
      partition: record.partition,
      offset: record.offset,
      code: refusal.code,
      reason: refusal.reason.slice(0, 1000),
    };
  }
}
