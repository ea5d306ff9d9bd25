import { parentPort } from 'node:worker_threads';
import { processBatch } from './projector';
import { ProjectRequest, ProjectResponse, withBuffers } from './projector-pool';

// The worker thread of WorkerProjector: one batch at a time, answered in order.
parentPort?.on('message', (m: ProjectRequest) => {
  let response: ProjectResponse;
  try {
    const batch = { ...m.batch, records: withBuffers(m.batch.records), heartbeat: async () => undefined };
    response = { id: m.id, result: processBatch(batch, m.replayWatermark, m.options) };
  } catch (e) {
    response = { id: m.id, error: (e as Error).message };
  }
  parentPort?.postMessage(response);
});
