/**
 * The integrity tree's own cost, without HTTP or the other consumers: `node dist/bench/integrity-append.js
 * [<repo dir with a built dist>] [events]` appends the events (default 50,000, `eventBatch`'s mix, one tenant)
 * in batches of 1,000 to a fresh PGlite through that checkout's TreeStore and prints one JSON line: CPU µs per
 * event of the appends (this process does nothing else, so it is the consumer's cost on the main thread),
 * the time of one redelivered batch, node rows per leaf, and 500 inclusion proofs computed from the store
 * (p50, p99, each checked against the in-memory tree). It loads that checkout's own libs, so it also measures
 * commits older than itself (docs/performance.md, issue 13).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AuditEvent } from '@app/contracts';
import { eventBatch } from './lib/mix';

/* eslint-disable @typescript-eslint/no-require-imports */
const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
const events = Number(process.argv[3] ?? 50_000);
const I = require(path.join(dir, 'dist/libs/integrity/src')) as typeof import('@app/integrity');
const P = require(path.join(dir, 'dist/libs/persistence/src')) as typeof import('@app/persistence');
/* eslint-enable @typescript-eslint/no-require-imports */

const BATCH = 1000;

function stored(i: number, fields: Record<string, unknown>): AuditEvent {
  const us = Date.UTC(2026, 0, 1) * 1000 + i;
  const time = new Date(Math.floor(us / 1000)).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}Z`);
  return {
    schema_version: 1,
    id: `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`,
    tenant_id: 'bench',
    category: 'system_events',
    severity: 'info',
    ip_address: '',
    user_agent: '',
    session_id: '',
    source: '',
    idempotency_key: '',
    timestamp: time,
    received_at: time,
    ...fields,
  } as AuditEvent;
}

async function main(): Promise<void> {
  const data = mkdtempSync(path.join(os.tmpdir(), 'integrity-append-'));
  const ds = await P.createDataSource({ target: { kind: 'pglite', dataDir: data }, entities: [], migrations: I.INTEGRITY_MIGRATIONS });
  try {
    const store = new I.TreeStore(ds);
    const mix = eventBatch(BATCH, 7);
    const batches = Array.from({ length: Math.ceil(events / BATCH) }, (_, b) =>
      mix.map((fields, j) => ({ event: stored(b * BATCH + j, fields), partition: 0, offset: String(b * BATCH + j) })),
    );
    await store.append(
      'warm-up',
      batches[0].map((x) => ({ ...x, event: { ...x.event, tenant_id: 'warm-up' } })),
    );
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const b of batches) await store.append('bench', b);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    const size = batches.length * BATCH;
    const r0 = performance.now();
    const again = await store.append('bench', batches[batches.length - 1]);
    const redeliveredMs = performance.now() - r0;
    const reference = I.memoryTree(batches.flat().map((x) => I.leafHashOf(x.event)));
    const [{ n }] = (await ds.query('SELECT count(*)::int AS n FROM integrity_nodes WHERE tenant_id = $1', ['bench'])) as Array<{
      n: number;
    }>;
    const proofMs: number[] = [];
    for (let k = 0; k < 500; k++) {
      const index = Math.floor((k * 7919) % size);
      const t = performance.now();
      const proof = await store.compute('bench', (node) => I.inclusionProof(node, index, size));
      proofMs.push(performance.now() - t);
      if (!Buffer.concat(proof).equals(Buffer.concat(I.inclusionProof(reference, index, size))))
        throw new Error(`proof of ${index} differs`);
    }
    proofMs.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        dir,
        events: size,
        append_cpu_us_per_event: Number(((cpu.user + cpu.system) / size).toFixed(1)),
        append_events_per_s: Math.round(size / seconds),
        redelivered_batch: { added: again, ms: Number(redeliveredMs.toFixed(1)) },
        node_rows_per_leaf: Number((n / size).toFixed(3)),
        proof_ms: { p50: Number(proofMs[249].toFixed(2)), p99: Number(proofMs[494].toFixed(2)) },
      }),
    );
  } finally {
    await ds.destroy();
    rmSync(data, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
