import { ServerResponse } from 'node:http';

export type DrainOutcome = 'drained' | 'closed' | 'stalled';

/**
 * Writes SSE frames to one response and respects its backpressure: `write` says whether the socket took the
 * frame without buffering past its high-water mark, and `drain` waits for the buffer to empty, for the
 * client to go, or for `stallMs` to pass. A caller that stops writing when `write` returns false holds at
 * most the high-water mark (16 KiB) plus one frame per stream, however slowly its client reads.
 */
export class SseWriter {
  private closed = false;

  constructor(private readonly raw: ServerResponse) {
    raw.once('close', () => {
      this.closed = true;
    });
  }

  get open(): boolean {
    return !this.closed && !this.raw.destroyed;
  }

  /** Bytes written but not yet handed to the socket. */
  get buffered(): number {
    return this.raw.writableLength;
  }

  write(frame: string): boolean {
    if (!this.open) return false;
    return this.raw.write(frame);
  }

  /** Resolves when the buffer drained (or was already empty enough), the client left, or `stallMs` passed. */
  drain(stallMs: number): Promise<DrainOutcome> {
    if (!this.open) return Promise.resolve('closed');
    if (!this.raw.writableNeedDrain) return Promise.resolve('drained');
    return new Promise((resolve) => {
      const done = (outcome: DrainOutcome): void => {
        clearTimeout(timer);
        this.raw.off('drain', onDrain);
        this.raw.off('close', onClose);
        resolve(outcome);
      };
      const onDrain = (): void => done('drained');
      const onClose = (): void => done('closed');
      const timer = setTimeout(() => done('stalled'), stallMs);
      this.raw.on('drain', onDrain);
      this.raw.on('close', onClose);
    });
  }

  /**
   * Ends the stream with a last frame and closes the connection (an SSE connection is not reused). A client
   * that stopped reading may never take the frame, so the socket is destroyed after `graceMs` whatever
   * happened: nothing of this stream stays in memory beyond that.
   */
  finish(lastFrame: string | undefined, graceMs: number): void {
    if (!this.open) return;
    if (lastFrame !== undefined) this.raw.write(lastFrame);
    const timer = setTimeout(() => this.raw.destroy(), graceMs);
    timer.unref();
    this.raw.once('close', () => clearTimeout(timer));
    // Node detaches the socket from a finished response (to reuse it), so it is taken before the end.
    const socket = this.raw.socket;
    this.raw.end(() => {
      clearTimeout(timer);
      socket?.end();
    });
  }
}
