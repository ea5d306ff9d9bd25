import { mkdtempSync, openSync, rmSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BusBatch } from '../event-bus.port';
import { FileLogBus } from './file-log.bus';

const options = (dir: string) => ({ dir, fsync: true, segmentBytes: 4096, maxBatchRecords: 100, batchIntervalMs: 5, retentionMs: 0 });

async function collect(bus: FileLogBus, group: string, want: number, failFirst = 0): Promise<string[]> {
  const got: string[] = [];
  let failures = failFirst;
  return new Promise((resolve) => {
    void bus.subscribe(
      group,
      async (b: BusBatch) => {
        if (failures-- > 0) throw new Error('store down');
        got.push(...b.records.map((r) => r.value.toString()));
        if (got.length >= want) resolve(got);
      },
      { topic: 't' },
    );
  });
}

describe(FileLogBus.name, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'filelog-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should deliver in order across segments, redeliver after a handler failure, and resume from the commit', async () => {
    const bus = new FileLogBus(options(dir));
    for (let i = 0; i < 10; i++)
      await bus.publish(
        't',
        Array.from({ length: 30 }, (_, j) => ({ key: 'k', value: `${i * 30 + j}` })),
      );
    expect(readdirSync(path.join(dir, 'topics', 't')).length).toBeGreaterThan(1);
    const got = await collect(bus, 'g', 300, 1);
    expect(got.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await new Promise((r) => setTimeout(r, 50));
    await bus.close();

    const again = new FileLogBus(options(dir));
    await again.publish('t', [{ key: 'k', value: 'after-restart' }]);
    const next = await collect(again, 'g', 1);
    expect(next).toEqual(['after-restart']);
    await again.close();
  });

  it('should drop a torn tail left by a crash and keep every complete record', async () => {
    const bus = new FileLogBus(options(dir));
    await bus.publish('t', [
      { key: null as unknown as string, value: 'a' },
      { key: 'k', value: 'b' },
    ]);
    await bus.close();
    const seg = path.join(dir, 'topics', 't', readdirSync(path.join(dir, 'topics', 't'))[0]);
    const fd = openSync(seg, 'a');
    writeSync(fd, Buffer.from([200, 0, 0, 0, 1, 2, 3]));
    closeSync(fd);
    const reopened = new FileLogBus(options(dir));
    await reopened.publish('t', [{ key: 'k', value: 'c' }]);
    expect(await collect(reopened, 'g2', 3)).toEqual(['a', 'b', 'c']);
    await reopened.close();
  });
});
