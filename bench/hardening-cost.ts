/**
 * The ingest request's own code, without HTTP, the log or the consumers: `node dist/bench/hardening-cost.js
 * [<checkout with a built dist>] [label]` loads that checkout's body parser and IngestService (its contract:
 * schema, normalisation, the structure and character checks) and times what one request runs before the log
 * write, with a publisher that does nothing: a single-event body, and a body of 1,000 events. The bodies come
 * from this checkout (`bench/lib/mix.ts`), limited to event types both catalogues know, so two builds run the
 * very same bytes. Prints one JSON line: the median of 7 rounds, µs per request and per event.
 *
 * End to end on this VM a request's CPU swings ±40% between identical runs (docs/performance.md), far more than
 * issue 8's 5% bound; this is the part of the request the hardening changed, timed steadily enough to compare.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { eventBatch, SINGLE_EVENT } from './lib/mix';

/* eslint-disable @typescript-eslint/no-require-imports */
const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
const label = process.argv[3] ?? path.basename(dir);
const C = require(path.join(dir, 'dist/libs/contracts/src')) as typeof import('@app/contracts');
const B = require(path.join(dir, 'dist/libs/api/src/http/body-parsers')) as Partial<typeof import('../libs/api/src/http/body-parsers')>;
const I = require(path.join(dir, 'dist/libs/ingest/src/ingest.service')) as typeof import('../libs/ingest/src/ingest.service');
/* eslint-enable @typescript-eslint/no-require-imports */

const ROUNDS = 7;

/** The body as the HTTP layer hands it on: bytes to text (the newer build refuses invalid UTF-8 here), then JSON. */
function parse(body: Buffer): unknown {
  const text = B.decodeUtf8Body ? B.decodeUtf8Body(body) : body.toString('utf8');
  return B.parseJsonBody!(text);
}

async function main(): Promise<void> {
  const known = new Set(C.EVENT_TYPES.map((t) => t.event_type));
  const single = Buffer.from(JSON.stringify(SINGLE_EVENT));
  const batchEvents = eventBatch(1200, 7)
    .filter((e) => known.has(String(e.event_type)))
    .slice(0, 1000);
  const batch = Buffer.from(JSON.stringify(batchEvents));
  // Both builds' constructors take (publisher, idempotency store); the store is off, as for events without keys.
  const service = new I.IngestService({ publish: async () => undefined } as never, undefined);
  const request = async (body: Buffer): Promise<void> => {
    const parsed = parse(body);
    const events = Array.isArray(parsed) ? parsed : [parsed];
    const r = await service.ingest({ events, batch: Array.isArray(parsed), tenantId: 'default', ipAddress: '127.0.0.1' });
    if (r.accepted !== events.length) throw new Error(`${label}: ${r.rejected} of ${events.length} events rejected`);
  };
  const time = async (body: Buffer, n: number): Promise<number[]> => {
    for (let i = 0; i < n; i++) await request(body);
    const rounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await request(body);
      rounds.push(((performance.now() - t0) * 1000) / n);
    }
    return rounds.sort((a, b) => a - b);
  };
  const singleUs = await time(single, 20_000);
  const batchUs = await time(batch, 40);
  const median = (xs: number[]): number => Number(xs[Math.floor(xs.length / 2)].toFixed(2));
  process.stdout.write(
    `${JSON.stringify({
      label,
      single_us_per_request: median(singleUs),
      single_rounds: singleUs.map((x) => Number(x.toFixed(2))),
      batch_us_per_event: Number((median(batchUs) / batchEvents.length).toFixed(3)),
      batch_rounds_us_per_request: batchUs.map((x) => Math.round(x)),
      batch_events: batchEvents.length,
    })}\n`,
  );
  (service as { close?: () => Promise<void> }).close?.();
}

main().catch((e: Error) => {
  console.error(e);
  process.exit(1);
});
