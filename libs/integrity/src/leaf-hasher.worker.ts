import { lowerThreadPriority, serveWorkerRpc } from '@app/common';
import { HashedBatch, hasherSession, HashRequest } from './leaf-hasher';

// The worker thread of leafHasher(): one batch at a time, answered in order; its frontiers kept between them.
serveWorkerRpc<HashRequest, HashedBatch>(hasherSession());
// The tree may lag behind the log (its lag is shown): under load, the threads acknowledging events go first.
lowerThreadPriority(10);
