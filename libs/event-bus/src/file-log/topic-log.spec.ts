import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TopicLog } from './topic-log';

/** The descriptors this process holds open on files under `dir` (Linux: /proc/self/fd). */
function openUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n++;
    } catch {
      // Closed meanwhile (the readdir's own descriptor).
    }
  }
  return n;
}

describe(TopicLog.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'topic-log-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should open one read handle per segment however many readers ask for it at once, and close them all', async () => {
    // Small segments: the records span several, and each reader's first read of each segment races the others'.
    const log = new TopicLog(dir, 4096, false);
    await log.open();
    for (let i = 0; i < 20; i++) {
      await log.append(Array.from({ length: 10 }, (_, j) => ({ key: null, value: Buffer.alloc(100, i * 10 + j) })));
    }
    const segments = readdirSync(dir).filter((n) => n.endsWith('.log')).length;
    expect(segments).toBeGreaterThan(3);
    const readAll = async (): Promise<number> => {
      let cursor = log.cursorAt('beginning');
      let n = 0;
      for (;;) {
        const { records, next } = await log.read(cursor, 7, 1 << 20);
        if (records.length === 0) return n;
        n += records.length;
        cursor = next;
      }
    };
    expect(await Promise.all(Array.from({ length: 8 }, readAll))).toEqual(Array(8).fill(200));
    // The active segment's append descriptor, and one read handle per segment: no loser of a race left open.
    expect(openUnder(dir)).toBe(1 + segments);
    await log.close();
    expect(openUnder(dir)).toBe(0);
  });
});
