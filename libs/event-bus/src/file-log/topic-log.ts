import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { decodeRecord, encodeRecord, HeaderMemo } from './segment-codec';

export interface LogCursor {
  /** Offset of the next record to read. */
  offset: number;
  /** Base offset of the segment the next record is in, and its byte position there. */
  segment: number;
  position: number;
}

export interface ReadRecord {
  offset: number;
  timestampMs: number;
  key: string | null;
  headers: Record<string, string>;
  value: Buffer;
}

export interface AppendRecord {
  key: string | null;
  value: Buffer;
  headers?: Record<string, string>;
}

interface Pending {
  records: AppendRecord[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

const segmentName = (base: number): string => `${String(base).padStart(20, '0')}.log`;

/**
 * A single-partition append-only log in segment files, the embedded stand-in for a Kafka partition.
 * Appends are group-committed: every append waiting while one write+fdatasync runs goes into the next,
 * and `append` resolves only after its bytes are synced. Readers never see bytes that are not yet synced.
 */
export class TopicLog {
  private segments: number[] = [];
  private fd: fsp.FileHandle | null = null;
  private activeBase = 0;
  private activeSize = 0;
  /** Append time of the active segment's first record; null while it is empty. */
  private activeFirstMs: number | null = null;
  private next = 0;
  private pending: Pending[] = [];
  private flushing = false;
  private closed = false;
  private readonly listeners = new Set<() => void>();
  /**
   * One read handle per segment, opened on first use. The promise is what is kept: consumers read the same
   * segment at once, and two opens racing for one slot left the loser's handle to be closed by the GC.
   */
  private readonly readHandles = new Map<number, Promise<fsp.FileHandle>>();
  /** Bytes per record on disk, as the reads have found them (a running mean): how much one read asks for. */
  private recordBytes = 1024;

  constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    private readonly fsync: boolean,
    /** The append time written into each record; injected so retention tests need not wait days. */
    private readonly now: () => number = Date.now,
    /**
     * A segment is also rolled once its first record is this old, so at low volume a segment does not stay
     * active (and undeletable) for much longer than the hot window while it slowly fills.
     */
    private readonly rollMs: number = Infinity,
  ) {}

  get nextOffset(): number {
    return this.next;
  }

  get firstOffset(): number {
    return this.segments[0] ?? 0;
  }

  async open(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const names = (await fsp.readdir(this.dir)).filter((n) => /^\d{20}\.log$/.test(n));
    this.segments = names.map((n) => Number(n.slice(0, 20))).sort((a, b) => a - b);
    if (this.segments.length === 0) this.segments = [0];
    this.activeBase = this.segments[this.segments.length - 1];
    const file = this.segmentPath(this.activeBase);
    this.fd = await fsp.open(file, 'a+');
    const { count, validBytes, fileBytes } = await this.scan(file);
    if (validBytes < fileBytes) {
      // A crash mid-write left a torn record; those bytes were never acknowledged.
      await this.fd.truncate(validBytes);
      await this.fd.sync();
    }
    this.activeSize = validBytes;
    this.next = this.activeBase + count;
    this.activeFirstMs = count > 0 ? await this.firstTimestampOf(this.activeBase) : null;
  }

  private segmentPath(base: number): string {
    return path.join(this.dir, segmentName(base));
  }

  private async scan(file: string): Promise<{ count: number; validBytes: number; fileBytes: number }> {
    const buf = await fsp.readFile(file);
    let pos = 0;
    let count = 0;
    for (;;) {
      const rec = decodeRecord(buf, pos);
      if (!rec) break;
      pos += rec.size;
      count++;
    }
    return { count, validBytes: pos, fileBytes: buf.length };
  }

  append(records: AppendRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`log ${this.dir} is closed`));
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.writeBatch(batch);
          for (const p of batch) p.resolve();
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
        for (const l of this.listeners) l();
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    if (!this.fd) throw new Error('log not open');
    const now = this.now();
    if (this.activeSize >= this.segmentBytes || (this.activeFirstMs !== null && now - this.activeFirstMs >= this.rollMs)) await this.roll();
    const bufs: Buffer[] = [];
    let count = 0;
    for (const p of batch) {
      for (const r of p.records) {
        bufs.push(encodeRecord(now, r.key, r.headers, r.value));
        count++;
      }
    }
    const data = Buffer.concat(bufs);
    const { bytesWritten } = await this.fd.write(data, 0, data.length, null);
    if (bytesWritten !== data.length) throw new Error(`short write to ${this.dir}`);
    if (this.fsync) await this.fd.datasync();
    this.activeSize += data.length;
    this.next += count;
    this.activeFirstMs ??= now;
  }

  private async roll(): Promise<void> {
    await this.fd?.close();
    this.activeBase = this.next;
    this.segments.push(this.activeBase);
    this.fd = await fsp.open(this.segmentPath(this.activeBase), 'a+');
    this.activeSize = 0;
    this.activeFirstMs = null;
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const dirFd = await fsp.open(this.dir, 'r');
    try {
      await dirFd.sync();
    } finally {
      await dirFd.close();
    }
  }

  cursorAt(offset: 'beginning' | 'end'): LogCursor {
    if (offset === 'beginning') return { offset: this.firstOffset, segment: this.firstOffset, position: 0 };
    return { offset: this.next, segment: this.activeBase, position: this.activeSize };
  }

  /** Reads synced records from `cursor`, at most `maxRecords` and about `maxBytes`. */
  async read(cursor: LogCursor, maxRecords: number, maxBytes: number): Promise<{ records: ReadRecord[]; next: LogCursor }> {
    const records: ReadRecord[] = [];
    const memo: HeaderMemo = { bytes: null, headers: {} };
    let cur = { ...cursor };
    let bytes = 0;
    if (!this.segments.includes(cur.segment)) {
      // The segment was removed by retention: continue from the oldest one kept.
      cur = this.cursorAt('beginning');
    }
    while (records.length < maxRecords && cur.offset < this.next) {
      const isActive = cur.segment === this.activeBase;
      const handle = await this.readHandle(cur.segment);
      const end = isActive ? this.activeSize : (await handle.stat()).size;
      if (cur.position >= end) {
        const idx = this.segments.indexOf(cur.segment);
        const nextSeg = this.segments[idx + 1];
        if (nextSeg === undefined) break;
        cur = { offset: nextSeg, segment: nextSeg, position: 0 };
        continue;
      }
      // Sized to the records still wanted (a quarter more than the mean size says, at least 64 KiB), not to
      // maxBytes: a group catching up reads about what it decodes, instead of a fresh 16 MiB buffer a batch.
      const wanted = Math.max(64 << 10, Math.ceil((maxRecords - records.length) * this.recordBytes * 1.25));
      let len = Math.min(end - cur.position, Math.max(64 << 10, maxBytes - bytes), wanted);
      let buf = Buffer.allocUnsafe(len);
      let { bytesRead } = await handle.read(buf, 0, len, cur.position);
      const frame = bytesRead >= 4 ? 8 + buf.readUInt32LE(0) : 0;
      if (frame > bytesRead && frame <= end - cur.position) {
        // The next record alone is larger than the read: read it whole.
        len = frame;
        buf = Buffer.allocUnsafe(len);
        ({ bytesRead } = await handle.read(buf, 0, len, cur.position));
      }
      const view = buf.subarray(0, bytesRead);
      let pos = 0;
      const before = records.length;
      while (records.length < maxRecords) {
        const rec = decodeRecord(view, pos, memo);
        if (!rec) break;
        records.push({ offset: cur.offset, timestampMs: rec.timestampMs, key: rec.key, headers: rec.headers, value: rec.value });
        pos += rec.size;
        cur = { offset: cur.offset + 1, segment: cur.segment, position: cur.position + rec.size };
      }
      if (pos === 0) {
        // Everything below `end` was synced whole, so an undecodable record there is corruption, not a torn tail.
        throw new Error(`corrupt record in ${this.dir} segment ${cur.segment} at byte ${cur.position}`);
      }
      this.recordBytes = Math.max(16, Math.round((this.recordBytes * 3 + pos / (records.length - before)) / 4));
      bytes += pos;
      if (records.length >= maxRecords || bytes >= maxBytes) break;
    }
    return { records, next: cur };
  }

  private async readHandle(segment: number): Promise<fsp.FileHandle> {
    let h = this.readHandles.get(segment);
    if (!h) {
      h = fsp.open(this.segmentPath(segment), 'r');
      this.readHandles.set(segment, h);
      // A failed open is not kept: the next read tries again.
      h.catch(() => this.readHandles.get(segment) === h && this.readHandles.delete(segment));
    }
    return h;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The append time of the first record in `segment` (the format puts it at a fixed byte position), or null
   * when the segment holds no record yet. A segment's newest record is older than the next segment's first.
   */
  async firstTimestampOf(segment: number): Promise<number | null> {
    const head = Buffer.alloc(16);
    const { bytesRead } = await (await this.readHandle(segment)).read(head, 0, 16, 0);
    return bytesRead < 16 ? null : head.readDoubleLE(8);
  }

  /** The oldest record still held: its offset and append time (null when the log is empty). */
  async oldest(): Promise<{ offset: number; timestampMs: number | null }> {
    return { offset: this.firstOffset, timestampMs: this.firstOffset < this.next ? await this.firstTimestampOf(this.firstOffset) : null };
  }

  /**
   * Deletes whole segments, oldest first, while the segment holds only offsets below `processedBefore` and
   * every record in it was appended before `olderThanMs` (judged by the next segment's first record, so a
   * segment may outlive the window by up to one segment's span, never the other way). The active segment
   * is never deleted.
   */
  async deleteSegmentsBefore(processedBefore: number, olderThanMs: number): Promise<number> {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[1] <= processedBefore) {
      const base = this.segments[0];
      const nextFirst = await this.firstTimestampOf(this.segments[1]);
      if (nextFirst === null || nextFirst > olderThanMs) break;
      // Out of the list first, so no read (health's oldest()) opens it again while it is closed and unlinked; a
      // failed unlink leaves a file the next start lists and deletes in its turn.
      this.segments.shift();
      const h = this.readHandles.get(base);
      this.readHandles.delete(base);
      await closeHandle(h);
      await fsp.unlink(this.segmentPath(base));
      removed++;
    }
    if (removed > 0) await this.syncDir();
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
    const handles = [...this.readHandles.values()];
    this.readHandles.clear();
    for (const h of handles) await closeHandle(h);
    await this.fd?.close();
    this.fd = null;
  }
}

/** Closes a read handle that may still be opening, or whose open failed (then there is nothing to close). */
async function closeHandle(h: Promise<fsp.FileHandle> | undefined): Promise<void> {
  const fh = await h?.catch(() => undefined);
  await fh?.close();
}
