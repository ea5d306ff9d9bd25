import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TOPIC_EVENTS } from '@app/contracts';
import { BusBatch } from '@app/event-bus';
import { WorkerProjector } from './projector-pool';

/**
 * A stand-in for projector.worker.js (this suite runs on the TypeScript sources): it exits on a batch whose
 * first offset is "13", and otherwise answers with one refused record whose value is the first record's.
 */
const FAKE_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ id, request: m }) => {
  if (m.batch.firstOffset === '13') process.exit(3);
  parentPort.postMessage({ id, result: { rows: [], rejected: [{ key: 'k', value: m.batch.records[0].value }],
    suspectIds: [String(m.replayWatermark)], retrySuspectIds: [], anyTimeSuspectIds: [] } });
});`;

const batch = (firstOffset: string): BusBatch => ({
  topic: TOPIC_EVENTS,
  partition: 0,
  firstOffset,
  lastOffset: firstOffset,
  heartbeat: async () => undefined,
  records: [
    { topic: TOPIC_EVENTS, partition: 0, offset: firstOffset, timestampMs: 0, key: null, value: Buffer.from('{"x":1}'), headers: {} },
  ],
});

describe('WorkerProjector', () => {
  const script = path.join(mkdtempSync(path.join(tmpdir(), 'projector-')), 'worker.js');
  writeFileSync(script, FAKE_WORKER);

  it('should hand back Buffers, fail the batches of a worker that died, and start a new one for the retry', async () => {
    const projector = new WorkerProjector(script);
    try {
      const ok = await projector.process(batch('1'), 7n, { defaultTenant: 'default' });
      expect(Buffer.isBuffer(ok.rejected[0].value)).toBe(true);
      expect(ok.rejected[0].value.toString()).toBe('{"x":1}');
      expect(ok.suspectIds).toEqual(['7']);
      await expect(projector.process(batch('13'), 7n, { defaultTenant: 'default' })).rejects.toThrow(/exited with code 3/);
      const retried = await projector.process(batch('14'), 8n, { defaultTenant: 'default' });
      expect(retried.suspectIds).toEqual(['8']);
    } finally {
      await projector.close();
    }
    await expect(projector.process(batch('15'), 8n, { defaultTenant: 'default' })).rejects.toThrow(/closed/);
  });
});
