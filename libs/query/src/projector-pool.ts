import * as path from 'node:path';
import { asBuffer, WorkerRpc } from '@app/common';
import { BusBatch, BusRecord, OutgoingRecord } from '@app/event-bus';
import { ProcessedBatch, processBatch, ProcessOptions } from './projector';

/** Turns a delivered batch into rows for the store: on the calling thread, or on a worker thread. */
export interface BatchProjector {
  process(batch: BusBatch, replayWatermark: bigint, options: ProcessOptions): Promise<ProcessedBatch>;
  close(): Promise<void>;
}

export const inlineProjector: BatchProjector = {
  process: async (batch, replayWatermark, options) => processBatch(batch, replayWatermark, options),
  close: async () => undefined,
};

/** What crosses to the worker: the batch without its heartbeat function. */
export interface ProjectRequest {
  batch: Omit<BusBatch, 'heartbeat'>;
  replayWatermark: bigint;
  options: ProcessOptions;
}

/** The records as Buffers again after a structured clone (asBuffer). */
export function withBuffers<T extends BusRecord | OutgoingRecord>(records: T[]): T[] {
  return records.map((r) => ({ ...r, value: asBuffer(r.value as Uint8Array) }));
}

/**
 * Validation, mapping and JSON encoding of consumed batches on a worker thread, so the thread that serves
 * HTTP (the embedded app, or the query-store's reads) is not held for tens of milliseconds per batch. The
 * records are copied to the worker (a retried batch is sent again) and the encoded rows copied back; a
 * worker that died is replaced on the next batch.
 */
export class WorkerProjector implements BatchProjector {
  private readonly rpc: WorkerRpc<ProjectRequest, ProcessedBatch>;

  constructor(script = path.join(__dirname, 'projector.worker.js')) {
    this.rpc = new WorkerRpc(script, { name: 'projector' });
  }

  async process(batch: BusBatch, replayWatermark: bigint, options: ProcessOptions): Promise<ProcessedBatch> {
    const { heartbeat: _heartbeat, ...cloneable } = batch;
    const result = await this.rpc.call({ batch: cloneable, replayWatermark, options });
    return { ...result, rejected: withBuffers(result.rejected) };
  }

  close(): Promise<void> {
    return this.rpc.close();
  }
}
