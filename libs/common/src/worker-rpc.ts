import { parentPort, Worker, WorkerOptions } from 'node:worker_threads';

/** What a worker answers to a call: its result, or its error with the fields a plain structured clone would drop. */
export type WorkerReply<R> = { id: number; result: R } | { id: number; error: Record<string, unknown> & { message: string } };

/**
 * Calls to a worker thread, answered by id. The worker is held (keeps the process alive) only while a call is
 * in flight, so a process that never closed it can still exit; if it fails or exits, every call in flight
 * is rejected and the next call starts a new one (or, with `restart: false`, is rejected too).
 */
export class WorkerRpc<Req extends object, Res> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: Res) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;
  private closed = false;

  constructor(
    private readonly script: string,
    private readonly options: WorkerOptions & { name: string; restart?: boolean; onFailure?: (e: Error) => void },
  ) {}

  private start(): Worker {
    const worker = new Worker(this.script, this.options);
    worker.on('message', (m: WorkerReply<Res>) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in m) p.reject(Object.assign(new Error(m.error.message), m.error));
      else p.resolve(m.result);
    });
    const fail = (e: Error): void => {
      // A worker reports its death twice ('error', then 'exit'); by the second a new one may hold the calls.
      // Once closed, any report answers what is still pending.
      if (this.worker !== worker && !this.closed) return;
      this.worker = undefined;
      const first = this.options.restart === false && !this.failure && !this.closed;
      if (this.options.restart === false) this.failure ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      // Last, and guarded: a listener that throws must not leave calls pending or escape the exit handler.
      if (first) {
        try {
          this.options.onFailure?.(e);
        } catch {
          // The owner's problem; the calls are already answered.
        }
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the ${this.options.name} worker exited with code ${code}`)));
    worker.unref();
    return worker;
  }

  call(request: Req, transfer: Transferable[] = []): Promise<Res> {
    if (this.closed) return Promise.reject(new Error(`the ${this.options.name} worker is closed`));
    if (this.failure) return Promise.reject(this.failure);
    this.worker ??= this.start();
    const worker = this.worker;
    const id = this.nextId++;
    return new Promise<Res>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) worker.ref();
      try {
        worker.postMessage({ id, request }, transfer as never);
      } catch (e) {
        // Not sent (a value that cannot be cloned): nothing will answer it.
        this.pending.delete(id);
        if (this.pending.size === 0) worker.unref();
        reject(e as Error);
      }
    });
  }

  /** Ends the worker; a last call (`farewell`, e.g. closing a database) is made first. */
  async close(farewell?: Req): Promise<void> {
    try {
      if (farewell !== undefined && this.worker && !this.failure) await this.call(farewell);
    } finally {
      this.closed = true;
      const worker = this.worker;
      this.worker = undefined;
      await worker?.terminate();
    }
  }
}

/**
 * Structured clone hands a Buffer over as a plain Uint8Array (same bytes, no copy here); the code on either
 * side of a worker expects Buffers. A string passes through.
 */
export function asBuffer(value: Uint8Array | string): Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value as Buffer;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The error as plain data: its message, name and every primitive field (a database error's code, constraint...). */
export function plainError(e: unknown): Record<string, unknown> & { message: string } {
  const out: Record<string, unknown> & { message: string } = {
    message: e instanceof Error ? e.message : String(e),
    name: e instanceof Error ? e.name : 'Error',
  };
  if (e !== null && typeof e === 'object') {
    for (const [k, v] of Object.entries(e)) if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
  }
  return out;
}

/**
 * The worker's side of WorkerRpc: each request handled in the order it came (one at a time, the next starting
 * when the last has answered), its result or error posted back; a result may name what to transfer.
 */
export function serveWorkerRpc<Req, Res>(handle: (request: Req) => Promise<Res> | Res, transferOf?: (result: Res) => Transferable[]): void {
  let chain = Promise.resolve();
  parentPort?.on('message', (m: { id: number; request: Req }) => {
    chain = chain.then(async () => {
      try {
        const result = await handle(m.request);
        parentPort?.postMessage({ id: m.id, result } satisfies WorkerReply<Res>, (transferOf?.(result) ?? []) as never);
      } catch (e) {
        parentPort?.postMessage({ id: m.id, error: plainError(e) } satisfies WorkerReply<Res>);
      }
    });
  });
}

/**
 * Lowers the scheduling priority of the calling thread (Linux: setpriority on its thread id; elsewhere, or
 * when refused, nothing). For a worker doing background work that may lag (a consumer catching up), so
 * that under contention for the cores the threads answering requests run first.
 */
export function lowerThreadPriority(niceness: number): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { readlinkSync } = require('node:fs') as typeof import('node:fs');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { setPriority } = require('node:os') as typeof import('node:os');
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isSafeInteger(tid) || tid <= 0) return false;
    setPriority(tid, niceness);
    return true;
  } catch {
    return false;
  }
}
