import { serveWorkerRpc } from '@app/common';
import { processBatch } from './projector';
import { ProjectRequest, withBuffers } from './projector-pool';

// The worker thread of WorkerProjector: one batch at a time, answered in order.
serveWorkerRpc<ProjectRequest, ReturnType<typeof processBatch>>((m) =>
  processBatch({ ...m.batch, records: withBuffers(m.batch.records), heartbeat: async () => undefined }, m.replayWatermark, m.options),
);
