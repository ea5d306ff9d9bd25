import { mkdtempSync, openSync, rmSync, writeSync, closeSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BusBatch, Subscription } from '../event-bus.port';
import { FileLogBus, FileLogBusOptions } from './file-log.bus';

const DAY = 24 * 3600 * 1000;
const options = (dir: string, over: Partial<FileLogBusOptions> = {}): FileLogBusOptions => ({
  dir,
  fsync: true,
  segmentBytes: 4096,
  maxBatchRecords: 100,
  batchIntervalMs: 5,
  hotWindowMs: 7 * DAY,
  ...over,
});

/**
 * Reads `want` records as `group` (in whole batches of 30, the publish size), waits until their position is
 * committed, and closes the subscription. Batches past `want` are failed, so they are not committed.
 */
async function consume(bus: FileLogBus, group: string, want: number): Promise<number[]> {
  const offsets: number[] = [];
  let sub: Subscription | undefined;
  await new Promise<void>((resolve) => {
    void bus
      .subscribe(
        group,
        async (b: BusBatch) => {
          if (offsets.length >= want) throw new Error('enough');
          offsets.push(...b.records.map((r) => Number(r.offset)));
          if (offsets.length >= want) resolve();
        },
        { topic: 't' },
      )
      .then((s) => (sub = s));
  });
  const last = offsets[offsets.length - 1] + 1;
  for (let i = 0; i < 200; i++) {
    const g = (await bus.registeredGroups('t')).find((x) => x.group === group);
    if (g && g.offset >= last) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await sub?.close();
  return offsets;
}

/** Ten publishes of 30 records of 200 bytes: with 4 KiB segments each publish is a segment of its own. */
async function fill(bus: FileLogBus, publishes = 10): Promise<void> {
  for (let i = 0; i < publishes; i++) {
    await bus.publish(
      't',
      Array.from({ length: 30 }, () => ({ key: 'k', value: 'x'.repeat(200) })),
    );
  }
}

const segments = (dir: string): number => readdirSync(path.join(dir, 'topics', 't')).filter((n) => n.endsWith('.log')).length;

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

  it('should hand a group that is behind full batches in order, and commit each batch after its handler resolved', async () => {
    // given 100 records and batches of 10 (the next is read while the handler has the current one)
    const bus = new FileLogBus(options(dir, { maxBatchRecords: 10 }));
    for (let i = 0; i < 10; i++)
      await bus.publish(
        't',
        Array.from({ length: 10 }, (_, j) => ({ key: 'k', value: `${i * 10 + j}` })),
      );
    const committedWhenHandled: number[] = [];
    const got: number[] = [];
    await new Promise<void>((resolve) => {
      void bus.subscribe(
        'g',
        async (b: BusBatch) => {
          committedWhenHandled.push((await bus.registeredGroups('t'))[0].offset);
          got.push(...b.records.map((r) => Number(r.value.toString())));
          if (got.length === 100) resolve();
        },
        { topic: 't' },
      );
    });
    // then every record came once, in order, in full batches
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(committedWhenHandled).toHaveLength(10);
    // and no position was committed ahead of a batch still in a handler's hands
    committedWhenHandled.forEach((offset, i) => expect(offset).toBeLessThanOrEqual(i * 10));
    await bus.close();
    const again = new FileLogBus(options(dir, { maxBatchRecords: 10 }));
    expect((await again.registeredGroups('t'))[0].offset).toBe(100);
    await again.close();
  });

  it('should read records of any mix of sizes whole, though each read asks for about what the batch needs', async () => {
    // given small records, then records larger than a read sized by the small ones' mean (64 KiB at least),
    // then small ones again, in large segments
    const bus = new FileLogBus(options(dir, { segmentBytes: 64 << 20, maxBatchRecords: 50 }));
    const values = [
      ...Array.from({ length: 120 }, (_, i) => `small-${i}`),
      ...Array.from({ length: 3 }, (_, i) => `${i}`.padEnd(300_000 + i * 70_000, 'x')),
      ...Array.from({ length: 80 }, (_, i) => `after-${i}`.padEnd(5_000, 'y')),
    ];
    for (let i = 0; i < values.length; i += 40) {
      await bus.publish(
        't',
        values.slice(i, i + 40).map((value) => ({ key: 'k', value })),
      );
    }
    // when a group reads it all from the beginning
    const got = await collect(bus, 'g', values.length);
    // then every record came once, byte for byte, in order
    expect(got).toHaveLength(values.length);
    expect(got.every((v, i) => v === values[i])).toBe(true);
    await bus.close();
  });

  describe('retryNow', () => {
    // A back-off far longer than any test: a retry that comes can only have come from retryNow.
    const longBackoff = { retryBackoff: { baseMs: 600_000, maxMs: 600_000 } };

    it('should try a failed batch again at once, read afresh from the same position, however long the back-off', async () => {
      const bus = new FileLogBus(options(dir, longBackoff));
      await bus.publish('t', [{ key: 'k', value: 'a' }]);
      let failed: () => void = () => undefined;
      const failure = new Promise<void>((r) => (failed = r));
      const batches: string[][] = [];
      let delivered: () => void = () => undefined;
      const delivery = new Promise<void>((r) => (delivered = r));
      const sub = await bus.subscribe(
        'g',
        async (b: BusBatch) => {
          const values = b.records.map((r) => r.value.toString());
          batches.push(values);
          if (batches.length === 1) {
            failed();
            throw new Error('receiver down');
          }
          delivered();
        },
        { topic: 't' },
      );
      await failure;
      // when a record arrives during the back-off and the cause is gone
      await bus.publish('t', [{ key: 'k', value: 'b' }]);
      sub.retryNow?.();
      await delivery;
      // then the batch came again at once, from the same record and with what arrived meanwhile
      expect(batches).toEqual([['a'], ['a', 'b']]);
      await sub.close();
      await bus.close();
    });

    it('should retry at once a batch that fails after retryNow was asked while it was in the handler', async () => {
      const bus = new FileLogBus(options(dir, longBackoff));
      await bus.publish('t', [{ key: 'k', value: 'a' }]);
      let calls = 0;
      let sub: Subscription | undefined;
      const subscribed = new Promise<void>((resolve) => {
        void bus
          .subscribe(
            'g',
            async () => {
              calls++;
              if (calls === 1) {
                await subscribed;
                sub?.retryNow?.();
                throw new Error('paused');
              }
            },
            { topic: 't' },
          )
          .then((s) => {
            sub = s;
            resolve();
          });
      });
      await subscribed;
      for (let i = 0; i < 500 && calls < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(calls).toBe(2);
      await sub?.close();
      await bus.close();
    });

    it('should close a subscription without waiting out its back-off', async () => {
      const bus = new FileLogBus(options(dir, longBackoff));
      await bus.publish('t', [{ key: 'k', value: 'a' }]);
      let failed: () => void = () => undefined;
      const failure = new Promise<void>((r) => (failed = r));
      const sub = await bus.subscribe(
        'g',
        async () => {
          failed();
          throw new Error('down');
        },
        { topic: 't' },
      );
      await failure;
      // (jest's timeout, far below the back-off, fails the test if close waits)
      await sub.close();
      expect((await bus.registeredGroups('t'))[0]).toMatchObject({ offset: 0, lag: 1 });
      await bus.close();
    });
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

  describe('retention: the hot window and registered groups', () => {
    let clock: number;
    const now = (): number => clock;
    const logger = { info: jest.fn(), warn: jest.fn() };
    beforeEach(() => {
      clock = Date.UTC(2026, 0, 1);
      logger.info.mockReset();
      logger.warn.mockReset();
    });

    it('should keep what a registered group that is not subscribed has not processed, however old', async () => {
      // given a group that subscribed once, read nothing, and is now stopped
      const bus = new FileLogBus(options(dir, { now, logger }));
      await (await bus.subscribe('stopped', async () => undefined, { topic: 't' })).close();
      await fill(bus);
      const before = segments(dir);
      expect(before).toBe(10);
      // when the records are far older than the hot window
      clock += 30 * DAY;
      // then nothing goes
      expect(await bus.applyRetention()).toEqual({ t: 0 });
      expect(segments(dir)).toBe(before);
      // and once the group has read everything, the old segments go (the active one stays)
      expect(await consume(bus, 'stopped', 300)).toHaveLength(300);
      expect(await bus.applyRetention()).toEqual({ t: 9 });
      expect(segments(dir)).toBe(1);
      await bus.close();
    });

    it('should keep the hot window even when every group has processed it', async () => {
      const bus = new FileLogBus(options(dir, { now, logger }));
      await fill(bus, 5);
      expect(await consume(bus, 'g', 150)).toHaveLength(150);
      clock += 7 * DAY - 1;
      expect(await bus.applyRetention()).toEqual({ t: 0 });
      clock += 1;
      expect(await bus.applyRetention()).toEqual({ t: 4 });
      await bus.close();
    });

    it('should delete only what the most lagging registered group has passed', async () => {
      const bus = new FileLogBus(options(dir, { now, logger, maxBatchRecords: 30 }));
      await (await bus.subscribe('slow', async () => undefined, { topic: 't' })).close();
      await fill(bus, 3);
      expect(await consume(bus, 'slow', 60)).toHaveLength(60);
      await fill(bus, 3);
      expect(await consume(bus, 'fast', 180)).toHaveLength(180);
      clock += 8 * DAY;
      // 'slow' committed offset 60: the segments [0, 30) and [30, 60) only
      expect(await bus.applyRetention()).toEqual({ t: 2 });
      const health = (await bus.health()).detail.t as Record<string, unknown>;
      expect(health.oldest_offset).toBe(60);
      expect(health.consumer_lag).toEqual({ slow: 120, fast: 0 });
      await bus.close();
    });

    it('should start a new group at the oldest record held and say so in the log and in health', async () => {
      // given a log whose first segments went after the hot window
      const bus = new FileLogBus(options(dir, { now, logger }));
      await fill(bus, 4);
      expect(await consume(bus, 'first', 120)).toHaveLength(120);
      const writtenAt = clock;
      clock += 8 * DAY;
      expect(await bus.applyRetention()).toEqual({ t: 3 });
      // when a group registers afterwards
      const offsets = await consume(bus, 'late', 30);
      // then it reads from the oldest record held, and the log says which that is
      expect(offsets[0]).toBe(90);
      expect(logger.info).toHaveBeenCalledWith(
        expect.objectContaining({
          group: 'late',
          topic: 't',
          offset: 90,
          oldest_offset: 90,
          oldest_record_at: new Date(writtenAt).toISOString(),
        }),
        expect.stringContaining('oldest record held'),
      );
      const health = (await bus.health()).detail.t as Record<string, unknown>;
      expect(health).toMatchObject({ oldest_offset: 90, oldest_record_at: new Date(writtenAt).toISOString(), next_offset: 120 });
      expect(health.groups).toEqual({
        first: { committed_offset: 120, lag: 0, subscribed: false },
        late: { committed_offset: 120, lag: 0, subscribed: false },
      });
      await bus.close();
    });

    it('should roll a slowly filling segment daily, so it can go soon after leaving the window', async () => {
      // given one record a day, far below the segment size
      const bus = new FileLogBus(options(dir, { now, logger, segmentBytes: 1 << 20 }));
      for (let day = 0; day < 10; day++) {
        await bus.publish('t', [{ key: 'k', value: `day ${day}` }]);
        clock += DAY;
      }
      expect(segments(dir)).toBe(10);
      expect(await consume(bus, 'g', 10)).toHaveLength(10);
      // then at day 10 the records of days 0 to 2 are past the window and go; day 3's is dated by day 4's
      expect(await bus.applyRetention()).toEqual({ t: 3 });
      expect(((await bus.health()).detail.t as Record<string, unknown>).oldest_offset).toBe(3);
      await bus.close();
    });

    it('should keep a group registered across restarts until it is unregistered', async () => {
      const bus = new FileLogBus(options(dir, { now, logger }));
      await (await bus.subscribe('retired', async () => undefined, { topic: 't' })).close();
      await fill(bus, 3);
      await bus.close();
      // given a restart with the group no longer subscribing
      clock += 30 * DAY;
      const again = new FileLogBus(options(dir, { now, logger }));
      await again.publish('t', [{ key: 'k', value: 'after-restart' }]);
      expect(await again.registeredGroups('t')).toEqual([{ group: 'retired', offset: 0, lag: 91, subscribed: false }]);
      expect(await again.applyRetention()).toEqual({ t: 0 });
      // a subscribed group cannot be unregistered under its own feet
      const sub = await again.subscribe('active', async () => undefined, { topic: 't', fromBeginning: false });
      await expect(again.unregisterGroup('active', 't')).rejects.toThrow('close its subscription');
      await sub.close();
      // when it is unregistered
      await expect(again.unregisterGroup('retired', 't')).resolves.toBe(true);
      await expect(again.unregisterGroup('retired', 't')).resolves.toBe(false);
      // then it no longer holds the log
      expect((await again.registeredGroups('t')).map((g) => g.group)).toEqual(['active']);
      // (the third segment stays: the record after it, which dates it, is inside the window)
      expect(await again.applyRetention()).toEqual({ t: 2 });
      await again.close();
    });
  });
});
