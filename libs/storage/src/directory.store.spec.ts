import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { DirectoryObjectStore } from './directory.store';

describe(DirectoryObjectStore.name, () => {
  let root: string;
  let sut: DirectoryObjectStore;

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'objects-'));
    sut = new DirectoryObjectStore(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('should store a stream, report its size and SHA-256, and read it back', async () => {
    const info = await sut.put('exports/t1/a.csv', Readable.from(['a,b\r\n', '1,2\r\n']));
    expect(info).toMatchObject({ key: 'exports/t1/a.csv', size: 10, sha256: createHash('sha256').update('a,b\r\n1,2\r\n').digest('hex') });
    expect(await text(await sut.get('exports/t1/a.csv'))).toBe('a,b\r\n1,2\r\n');
    expect(await sut.head('exports/t1/a.csv')).toMatchObject({ size: 10, sha256: info.sha256 });
  });

  it('should list by prefix in key order and delete', async () => {
    await sut.put('archives/t1/2025-02.jsonl', Buffer.from('b'));
    await sut.put('archives/t1/2025-01.jsonl', Buffer.from('a'));
    await sut.put('exports/x', Buffer.from('c'));
    expect((await sut.list('archives/')).map((o) => o.key)).toEqual(['archives/t1/2025-01.jsonl', 'archives/t1/2025-02.jsonl']);
    await sut.delete('archives/t1/2025-01.jsonl');
    expect((await sut.list('archives/')).map((o) => o.key)).toEqual(['archives/t1/2025-02.jsonl']);
    expect(await sut.head('archives/t1/2025-01.jsonl')).toBeUndefined();
  });

  it('should leave no partial object when the source stream fails', async () => {
    const failing = new Readable({
      read() {
        this.push('part');
        this.destroy(new Error('source broke'));
      },
    });
    await expect(sut.put('exports/broken', failing)).rejects.toThrow('source broke');
    expect(await sut.head('exports/broken')).toBeUndefined();
    expect(readdirSync(path.join(root, 'exports'))).toEqual([]);
  });

  it('should make a file written at its staging path the object, by a rename, and refuse one whose size is not what was written', async () => {
    const staged = await sut.stagingPath('exports/t1/b.csv');
    expect(path.dirname(staged)).toBe(path.join(root, 'exports', 't1'));
    writeFileSync(staged, 'x,y\r\n');
    const sha256 = createHash('sha256').update('x,y\r\n').digest('hex');
    expect(await sut.list('exports/')).toEqual([]);
    const info = await sut.putFile('exports/t1/b.csv', staged, { size: 5, sha256 });
    expect(info).toMatchObject({ key: 'exports/t1/b.csv', size: 5, sha256 });
    expect(await text(await sut.get('exports/t1/b.csv'))).toBe('x,y\r\n');
    expect(await sut.head('exports/t1/b.csv')).toMatchObject({ size: 5, sha256 });

    const short = await sut.stagingPath('exports/t1/c.csv');
    writeFileSync(short, 'x');
    await expect(sut.putFile('exports/t1/c.csv', short, { size: 5, sha256 })).rejects.toThrow(/holds 1 bytes; 5 were written/);
    expect(await sut.head('exports/t1/c.csv')).toBeUndefined();
    expect(readdirSync(path.join(root, 'exports', 't1')).sort()).toEqual(['b.csv', 'b.csv.sha256']);
  });

  it('should refuse keys that could leave the root', async () => {
    await expect(sut.put('../etc/passwd', Buffer.from('x'))).rejects.toThrow(/invalid object key/);
    await expect(sut.get('a//b')).rejects.toThrow(/invalid object key/);
  });

  it('should answer NotFound for an absent object', async () => {
    await expect(sut.get('nothing/here')).rejects.toMatchObject({ status: 404 });
  });
});
