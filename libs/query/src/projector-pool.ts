import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
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
  id: number;
  batch: Omit<BusBatch, 'heartbeat'>;
  replayWatermark: bigint;
  options: ProcessOptions;
}

export type ProjectResponse = { id: number; result: ProcessedBatch } | { id: number; error: string };

/** Structured clone turns a Buffer into a plain Uint8Array; the code on either side expects Buffers. */
export function asBuffer(value: Uint8Array | string): Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value as Buffer;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function withBuffers<T extends BusRecord | OutgoingRecord>(records: T[]): T[] {
  return records.map((r) => ({ ...r, value: asBuffer(r.value as Uint8Array) }));
}

/**
 * Validation, mapping and JSON encoding of consumed batches on a worker thread, so the thread that serves
 * HTTP (the embedded app, or the query-store's reads) is not held for tens of milliseconds per batch. The
 * records are copied to the worker (a retried batch is sent again) and the encoded rows copied back.
 */
export class WorkerProjector implements BatchProjector {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: ProcessedBatch) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly script = path.join(__dirname, 'projector.worker.js')) {}

  private start(): Worker {
    const worker = new Worker(this.script);
    worker.on('message', (m: ProjectResponse) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve({ ...m.result, rejected: withBuffers(m.result.rejected) });
    });
    const fail = (e: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the projector worker exited with code ${code}`)));
    worker.unref();
    return worker;
  }

  process(batch: BusBatch, replayWatermark: bigint, options: ProcessOptions): Promise<ProcessedBatch> {
    if (this.closed) return Promise.reject(new Error('the projector is closed'));
    this.worker ??= this.start();
    const worker = this.worker;
    const id = this.nextId++;
    const { heartbeat: _heartbeat, ...cloneable } = batch;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, batch: cloneable, replayWatermark, options } satisfies ProjectRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
