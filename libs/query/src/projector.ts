import { BusBatch, decodeRecord, OutgoingRecord } from '@app/event-bus';
import { eventToRow } from './event-row.mapper';

/** A row ready for the store: its JSONEachRow line, and what the duplicate check needs to know of it. */
export interface EncodedRow {
  id: string;
  tenant_id: string;
  /** ClickHouse DateTime64 text, as in the row. */
  timestamp: string;
  line: string;
  /** The record's log offset: what the store refuses goes to the DLQ as this record. */
  offset: string;
}

export interface ProcessedBatch {
  rows: EncodedRow[];
  rejected: OutgoingRecord[];
  /**
   * Redelivered events, whose id may already be stored with the same bytes (so a stored copy has the same
   * event time): checked only within the batch's time range, which the sort key prunes.
   */
  suspectIds: string[];
  /**
   * Gateway records read from Kafka for the first time: the gateway's producer may have retried a send that
   * had landed, and the copy follows the original closely on the same partition. Checked against the ids
   * the partition stored recently, in memory.
   */
  retrySuspectIds: string[];
  /**
   * Events whose copy may carry another event time: a retried request with an idempotency key, or a direct
   * producer's retry with its own id. Checked by id alone.
   */
  anyTimeSuspectIds: string[];
}

export interface ProcessOptions {
  defaultTenant: string;
  /** The deployment's trust policy (see TrustPolicy): whether the gateway's records are shape-checked only. */
  trustGatewayRecords?: boolean;
}

/**
 * Pure message-to-row step of the query-store consumer. Messages are validated exactly like HTTP bodies
 * (direct producers are first-class); invalid ones become DLQ records carrying the reason.
 */
export function processBatch(batch: BusBatch, replayWatermark: bigint, options: ProcessOptions): ProcessedBatch {
  const { defaultTenant, trustGatewayRecords = false } = options;
  const rows: EncodedRow[] = [];
  const rejected: OutgoingRecord[] = [];
  const suspectIds: string[] = [];
  const retrySuspectIds: string[] = [];
  const anyTimeSuspectIds: string[] = [];
  const seen = new Set<string>();
  for (const record of batch.records) {
    const decoded = decodeRecord(record, { trust: trustGatewayRecords ? 'gateway-records' : 'none', defaultTenant });
    if (!decoded.ok) {
      rejected.push(decoded.deadLetter);
      continue;
    }
    const { event, fromGateway, producerChoseId } = decoded;
    if (seen.has(event.id)) continue;
    seen.add(event.id);
    const redelivered = BigInt(record.offset) <= replayWatermark;
    if (event.idempotency_key !== '' || (producerChoseId && !redelivered)) {
      anyTimeSuspectIds.push(event.id);
    } else if (redelivered) {
      suspectIds.push(event.id);
    } else if (fromGateway && !trustGatewayRecords) {
      // The embedded log is appended once per event, so there only a redelivery can be a copy.
      retrySuspectIds.push(event.id);
    }
    const row = eventToRow(event, { partition: record.partition, offset: record.offset });
    rows.push({ id: row.id, tenant_id: row.tenant_id, timestamp: row.timestamp, line: JSON.stringify(row), offset: record.offset });
  }
  return { rows, rejected, suspectIds, retrySuspectIds, anyTimeSuspectIds };
}

/** Same log range, same token: a retried insert of an unchanged batch is dropped by ClickHouse. */
export function dedupToken(batch: BusBatch): string {
  return `${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.lastOffset}`;
}
