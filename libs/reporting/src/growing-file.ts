import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { appendFile, open, rm, writeFile } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';

/** Reads of what the engine wrote: large, so hashing pays per megabyte, not per chunk. */
const READ_BYTES = 1 << 20;

/**
 * An export file written in pieces, some by this process (a header, a bracket) and the rows by the query
 * engine, and hashed as it grows: each piece is read back once, when it is complete, while the engine writes
 * the next one. Uncompressed, the engine appends to the file itself; compressed, each of its pieces is a
 * gzip file of its own, appended here (a file of gzip members, one after another, is one gzip file, RFC 1952
 * §2.2, which gunzip, zlib and every gzip reader take as the concatenation), and this process's own pieces
 * are gzip members too.
 */
export class GrowingFile {
  private readonly hash = createHash('sha256');
  /** Bytes of the file hashed so far: the file's size once every piece is in. */
  size = 0;
  private members = 0;

  constructor(
    readonly path: string,
    readonly compressed: boolean,
  ) {}

  /** Creates the file with this process's first bytes (possibly none). */
  async start(text: string): Promise<void> {
    const bytes = this.encode(text);
    await writeFile(this.path, bytes, { flag: 'wx' });
    this.took(bytes);
  }

  /** Appends bytes of this process's own. */
  async write(text: string): Promise<void> {
    const bytes = this.encode(text);
    await appendFile(this.path, bytes);
    this.took(bytes);
  }

  /** Uncompressed: hashes what the engine appended, up to `end` (the size when its statement ended). */
  async appended(end: number): Promise<void> {
    if (end <= this.size) return;
    for await (const chunk of createReadStream(this.path, { start: this.size, end: end - 1, highWaterMark: READ_BYTES })) {
      this.hash.update(chunk as Buffer);
    }
    this.size = end;
  }

  /**
   * Flushes what the file holds so far to disk (fdatasync), while the engine writes the next piece, so the
   * fsync that makes the file an object (ObjectStore.putFile) has only the last piece left to write.
   */
  async flush(): Promise<void> {
    const fh = await open(this.path, 'r');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  /** Compressed: appends the gzip file the engine wrote at `part`, hashing it on the way, and removes it. */
  async appendPart(part: string): Promise<void> {
    const tap = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.hash.update(chunk);
        this.size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(createReadStream(part, { highWaterMark: READ_BYTES }), tap, createWriteStream(this.path, { flags: 'a' }));
    this.members++;
    await rm(part, { force: true });
  }

  /** The last bytes of this process; a compressed file gets at least one member, so it is a gzip file. */
  async finish(text: string): Promise<{ size: number; sha256: string }> {
    if (text.length > 0 || (this.compressed && this.members === 0)) {
      const bytes = this.compressed ? gzipSync(text) : Buffer.from(text);
      await appendFile(this.path, bytes);
      this.took(bytes);
    }
    return { size: this.size, sha256: this.hash.digest('hex') };
  }

  private encode(text: string): Buffer {
    if (!this.compressed) return Buffer.from(text);
    return text.length > 0 ? gzipSync(text) : Buffer.alloc(0);
  }

  private took(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.hash.update(bytes);
    this.size += bytes.length;
    if (this.compressed) this.members++;
  }
}
