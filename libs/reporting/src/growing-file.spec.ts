import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GrowingFile } from './growing-file';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('GrowingFile', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'growing-file-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('given pieces of its own and pieces another writer appended, then it hashes the whole file once each is complete', async () => {
    const p = path.join(dir, 'f');
    const file = new GrowingFile(p, false);
    await file.start('header\r\n');
    appendFileSync(p, 'rows of page 1\r\n');
    const end1 = statSync(p).size;
    // The next page is being appended while the last one is hashed: only the bytes up to its end are taken.
    appendFileSync(p, 'part of page 2');
    await file.appended(end1);
    expect(file.size).toBe(end1);
    appendFileSync(p, '\r\n');
    await file.appended(statSync(p).size);
    await file.appended(statSync(p).size);
    const written = await file.finish('\n]\n');
    const bytes = readFileSync(p);
    expect(bytes.toString()).toBe('header\r\nrows of page 1\r\npart of page 2\r\n\n]\n');
    expect(written).toEqual({ size: bytes.length, sha256: sha256(bytes) });
  });

  it('given gzip parts, then the file is their members and its own, one gzip file of the whole text, and the parts are gone', async () => {
    const p = path.join(dir, 'f.gz');
    const file = new GrowingFile(p, true);
    await file.start('[');
    for (const [k, text] of ['\n{"a":1}', ',\n{"a":2}'].entries()) {
      writeFileSync(`${p}.${k}`, gzipSync(text));
      await file.appendPart(`${p}.${k}`);
      expect(existsSync(`${p}.${k}`)).toBe(false);
    }
    const written = await file.finish('\n]\n');
    const bytes = readFileSync(p);
    expect(JSON.parse(gunzipSync(bytes).toString())).toEqual([{ a: 1 }, { a: 2 }]);
    expect(written).toEqual({ size: bytes.length, sha256: sha256(bytes) });
  });

  it('given nothing at all to compress, then the file is still a gzip file (of nothing)', async () => {
    const p = path.join(dir, 'e.gz');
    const file = new GrowingFile(p, true);
    await file.start('');
    const written = await file.finish('');
    expect(gunzipSync(readFileSync(p)).length).toBe(0);
    expect(written.size).toBe(readFileSync(p).length);
  });
});
