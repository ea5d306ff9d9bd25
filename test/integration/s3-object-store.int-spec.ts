import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3_PART_BYTES, S3ObjectStore } from '@app/storage';
import { S3PROXY_CREDENTIALS, S3PROXY_ENDPOINT } from './support/environment';

describe(S3ObjectStore.name, () => {
  const bucket = `audit-test-${randomBytes(4).toString('hex')}`;
  let sut: S3ObjectStore;

  beforeAll(async () => {
    const admin = new S3Client({
      endpoint: S3PROXY_ENDPOINT,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: S3PROXY_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
    sut = new S3ObjectStore({ endpoint: S3PROXY_ENDPOINT, region: 'us-east-1', bucket, prefix: 'audit', ...S3PROXY_CREDENTIALS });
  });

  afterAll(() => sut.close());

  it('should store a stream, report its size and SHA-256, and read it back', async () => {
    const info = await sut.put('exports/t1/a.csv', Readable.from(['a,b\r\n', '1,2\r\n']));
    const sha = createHash('sha256').update('a,b\r\n1,2\r\n').digest('hex');
    expect(info).toMatchObject({ key: 'exports/t1/a.csv', size: 10, sha256: sha });
    expect(await text(await sut.get('exports/t1/a.csv'))).toBe('a,b\r\n1,2\r\n');
    expect(await sut.head('exports/t1/a.csv')).toMatchObject({ key: 'exports/t1/a.csv', size: 10, sha256: sha });
  });

  it('should upload a file from its staging path, remove the local file, and refuse bytes other than those written', async () => {
    const staged = await sut.stagingPath('exports/t1/f.csv');
    writeFileSync(staged, 'x,y\r\n');
    const sha = createHash('sha256').update('x,y\r\n').digest('hex');
    expect(await sut.putFile('exports/t1/f.csv', staged, { size: 5, sha256: sha })).toMatchObject({ size: 5, sha256: sha });
    expect(existsSync(staged)).toBe(false);
    expect(await text(await sut.get('exports/t1/f.csv'))).toBe('x,y\r\n');
    const other = await sut.stagingPath('exports/t1/g.csv');
    writeFileSync(other, 'changed');
    await expect(sut.putFile('exports/t1/g.csv', other, { size: 5, sha256: sha })).rejects.toThrow(/changed while it was uploaded/);
    expect(await sut.head('exports/t1/g.csv')).toBeUndefined();
    expect(existsSync(other)).toBe(false);
  });

  it('should list by prefix in key order and delete', async () => {
    await sut.put('archives/t1/2025-02.jsonl', Buffer.from('b'));
    await sut.put('archives/t1/2025-01.jsonl', Buffer.from('a'));
    await sut.put('other/x', Buffer.from('c'));
    expect((await sut.list('archives/')).map((o) => o.key)).toEqual(['archives/t1/2025-01.jsonl', 'archives/t1/2025-02.jsonl']);
    await sut.delete('archives/t1/2025-01.jsonl');
    expect((await sut.list('archives/')).map((o) => o.key)).toEqual(['archives/t1/2025-02.jsonl']);
    expect(await sut.head('archives/t1/2025-01.jsonl')).toBeUndefined();
    await expect(sut.delete('archives/t1/never-there')).resolves.toBeUndefined();
  });

  it('should answer NotFound for an absent object, refuse bad keys, and ping', async () => {
    await expect(sut.get('nothing/here')).rejects.toMatchObject({ status: 404 });
    await expect(sut.put('../etc/passwd', Buffer.from('x'))).rejects.toThrow(/invalid object key/);
    await expect(sut.ping()).resolves.toBe(true);
    const missing = new S3ObjectStore({
      endpoint: S3PROXY_ENDPOINT,
      region: 'us-east-1',
      bucket: 'no-such-bucket-here',
      ...S3PROXY_CREDENTIALS,
    });
    await expect(missing.ping()).resolves.toBe(false);
    missing.close();
  });

  it('should upload a stream longer than a part in parts, with its SHA-256 in head, and leave nothing when the source fails', async () => {
    const chunk = randomBytes(1024 * 1024);
    const count = Math.ceil((2.5 * S3_PART_BYTES) / chunk.length);
    const sha = createHash('sha256');
    for (let i = 0; i < count; i++) sha.update(chunk);
    const info = await sut.put(
      'exports/t1/big.bin',
      Readable.from(
        (function* () {
          for (let i = 0; i < count; i++) yield chunk;
        })(),
      ),
    );
    expect(info).toMatchObject({ size: count * chunk.length, sha256: sha.digest('hex') });
    expect(await sut.head('exports/t1/big.bin')).toMatchObject({ size: count * chunk.length, sha256: info.sha256 });
    const back = createHash('sha256');
    for await (const c of await sut.get('exports/t1/big.bin')) back.update(c as Buffer);
    expect(back.digest('hex')).toBe(info.sha256);

    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent++ < 12) this.push(chunk);
        else this.destroy(new Error('source broke'));
      },
    });
    await expect(sut.put('exports/t1/broken.bin', failing)).rejects.toThrow('source broke');
    expect(await sut.head('exports/t1/broken.bin')).toBeUndefined();
  }, 60_000);
});
