import { workerData } from 'node:worker_threads';
import { serveWorkerRpc } from '@app/common';
import { openPGliteSession, PGliteRequest } from './pglite-session';

// The worker thread of the embedded configuration store (pglite-thread.ts): its PGlite, its requests in order.
const session = openPGliteSession((workerData as { dataDir: string }).dataDir);
serveWorkerRpc<PGliteRequest, unknown>(session, (result) => (result instanceof Uint8Array ? [result.buffer as ArrayBuffer] : []));
