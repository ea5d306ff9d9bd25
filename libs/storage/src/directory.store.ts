import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NotFoundError } from '@app/contracts';
import { checkObjectKey, ObjectInfo, ObjectStore } from './object-store.port';

/** The SHA-256 of each object is kept beside it, so `head` and `list` never read the object. */
const SIDECAR = '.sha256';

/**
 * Objects as files under one root directory. `put` writes a temporary file, fsyncs it, renames it into place
 * and fsyncs the directory, so a crash leaves the old object or the new one, never a torn file.
 */
export class DirectoryObjectStore implements ObjectStore {
  readonly kind = 'directory' as const;

  constructor(private readonly root: string) {}

  private pathOf(key: string): string {
    return path.join(this.root, ...checkObjectKey(key).split('/'));
  }

  async put(key: string, body: Buffer | Readable): Promise<ObjectInfo> {
    const tmp = await this.stagingPath(key);
    const hash = createHash('sha256');
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, counter, createWriteStream(tmp, { flags: 'wx' }));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return this.putFile(key, tmp, { size, sha256: hash.digest('hex') });
  }

  /** A `.tmp-` file beside the object (skipped by `list`), so `putFile` renames it within one directory. */
  async stagingPath(key: string): Promise<string> {
    const dir = path.dirname(this.pathOf(key));
    await mkdir(dir, { recursive: true });
    return path.join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  }

  /** fsyncs the file, writes its SHA-256 beside the target, renames it into place and fsyncs the directory. */
  async putFile(key: string, localPath: string, written: { size: number; sha256: string }): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    try {
      const fh = await open(localPath, 'r+');
      try {
        const { size } = await fh.stat();
        if (size !== written.size) throw new Error(`the file for ${key} holds ${size} bytes; ${written.size} were written`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await mkdir(dir, { recursive: true });
      await writeFile(`${target}${SIDECAR}`, written.sha256);
      await rename(localPath, target);
    } catch (e) {
      await rm(localPath, { force: true });
      throw e;
    }
    const dh = await open(dir, 'r');
    await dh.sync();
    await dh.close();
    return { key, size: written.size, sha256: written.sha256, modifiedAt: (await stat(target)).mtime };
  }

  async get(key: string): Promise<Readable> {
    const p = this.pathOf(key);
    try {
      await stat(p);
    } catch {
      throw new NotFoundError(`no object ${key}`);
    }
    return createReadStream(p);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const p = this.pathOf(key);
    try {
      const [s, sha256] = await Promise.all([stat(p), readFile(`${p}${SIDECAR}`, 'utf8')]);
      return { key, size: s.size, sha256: sha256.trim(), modifiedAt: s.mtime };
    } catch {
      return undefined;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith('.tmp-') || e.name.endsWith(SIDECAR)) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (prefix.startsWith(key) || key.startsWith(prefix)) await walk(path.join(dir, e.name), key);
        } else if (key.startsWith(prefix)) {
          const info = await this.head(key);
          if (info) out.push(info);
        }
      }
    };
    await walk(this.root, '');
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const p = this.pathOf(key);
    await rm(p, { force: true });
    await rm(`${p}${SIDECAR}`, { force: true });
  }

  async ping(): Promise<boolean> {
    try {
      await mkdir(this.root, { recursive: true });
      return true;
    } catch {
      return false;
    }
  }
}
