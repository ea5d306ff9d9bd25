import { Readable } from 'node:stream';
import { ObjectStore } from '@app/storage';

interface OpenRead {
  iterator: AsyncIterator<Buffer>;
  leftover: Buffer;
  offset: number;
  timer: NodeJS.Timeout;
}

/** How long an open read waits for the next chunk's request before it is closed. */
const IDLE_MS = 60_000;

/**
 * Reads of an object in chunks, for a download that crosses the port one chunk at a time: the stream of the
 * last read stays open at its position, so a download in order reads the object once (a read at another
 * offset opens the object again and skips to it).
 */
export class ChunkedReader {
  private readonly open = new Map<string, OpenRead>();

  constructor(private readonly store: ObjectStore) {}

  async read(key: string, offset: number, length: number): Promise<{ data: Buffer; eof: boolean }> {
    let r = this.open.get(key);
    this.open.delete(key);
    if (r) clearTimeout(r.timer);
    if (!r || r.offset !== offset) {
      if (r) await r.iterator.return?.();
      const stream: Readable = await this.store.get(key);
      r = {
        iterator: stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>,
        leftover: Buffer.alloc(0),
        offset: 0,
        timer: undefined as never,
      };
      while (r.offset < offset) {
        const next = await r.iterator.next();
        if (next.done) return { data: Buffer.alloc(0), eof: true };
        const chunk = next.value;
        if (r.offset + chunk.length <= offset) r.offset += chunk.length;
        else {
          r.leftover = chunk.subarray(offset - r.offset);
          r.offset = offset;
        }
      }
    }
    const parts: Buffer[] = [r.leftover];
    let have = r.leftover.length;
    let eof = false;
    while (have < length) {
      const next = await r.iterator.next();
      if (next.done) {
        eof = true;
        break;
      }
      parts.push(next.value);
      have += next.value.length;
    }
    const all = Buffer.concat(parts);
    const data = all.subarray(0, length);
    r.leftover = all.subarray(length);
    r.offset = offset + data.length;
    if (eof && r.leftover.length === 0) return { data, eof: true };
    const held = r;
    held.timer = setTimeout(() => {
      if (this.open.get(key) === held) this.open.delete(key);
      void held.iterator.return?.();
    }, IDLE_MS);
    held.timer.unref();
    this.open.set(key, held);
    return { data, eof: false };
  }

  async close(): Promise<void> {
    for (const r of this.open.values()) {
      clearTimeout(r.timer);
      await r.iterator.return?.();
    }
    this.open.clear();
  }
}
