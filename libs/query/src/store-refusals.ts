import { BusBatch, OutgoingRecord } from '@app/event-bus';
import { dlqRecord, EncodedRow } from './projector';
import { StoreRefusal } from './store-errors';

/** The DLQ error code of a record whose row the query store refused (the message holds the store's error). */
export const STORE_REFUSED = 'store_refused';

/** What the query store refused so far in this process, for /audit/status. */
export interface StoreRefusalsSummary {
  rows_refused: number;
  last_refusal: { at: string; id: string; partition: number; offset: string; code: string; reason: string } | null;
}

/**
 * The records of `batch` whose rows (`rows`, as handed to StoreWriter.write) the store refused, as DLQ
 * records with the store's error as the reason; kept in `summary`.
 */
export function storeRefusedRecords(
  batch: BusBatch,
  rows: EncodedRow[],
  refusals: StoreRefusal[],
  summary: StoreRefusalsSummary,
): OutgoingRecord[] {
  const byOffset = new Map(batch.records.map((r) => [r.offset, r]));
  const out: OutgoingRecord[] = [];
  for (const refusal of refusals) {
    const row = rows[refusal.index];
    const record = byOffset.get(row.offset);
    if (record === undefined) throw new Error(`refused row ${row.id} has no record at offset ${row.offset} of the batch`);
    out.push(dlqRecord(record, STORE_REFUSED, `${refusal.code}: ${refusal.reason}`));
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
  return out;
}
