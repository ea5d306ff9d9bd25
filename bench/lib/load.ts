import { performance } from 'node:perf_hooks';
import { AUTH_HEADERS } from './processes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (
  opts: Record<string, unknown>,
) => Promise<AutocannonResult> & { on(event: 'response', listener: () => void): void };

interface AutocannonResult {
  start: Date;
  finish: Date;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { p50: number; p99: number; average: number; max: number };
}

export interface LoadOptions {
  url: string;
  body: string;
  connections: number;
  /** Seconds of load, or a fixed number of requests. */
  durationS?: number;
  amount?: number;
  /** Requests per second over all connections; unset: as fast as the server answers. */
  overallRate?: number;
  headers?: Record<string, string>;
}

export interface LoadResult {
  ok: number;
  failed: number;
  elapsedS: number;
  okPerS: number;
  p50Ms: number;
  p99Ms: number;
}

/** One autocannon run (pipelining 1): the same settings for the service and for the bare server it is compared with. */
export async function postLoad(o: LoadOptions): Promise<LoadResult> {
  const t0 = performance.now();
  let lastResponse = 0;
  const instance = autocannon({
    url: o.url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH_HEADERS, ...o.headers },
    body: o.body,
    connections: o.connections,
    pipelining: 1,
    timeout: 30,
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.durationS }),
    ...(o.overallRate !== undefined ? { overallRate: o.overallRate } : {}),
  });
  instance.on('response', () => {
    lastResponse = performance.now();
  });
  const r = await instance;
  // With `amount`, autocannon notices the last answer on its one-second tick: its start-to-finish is rounded
  // up to whole seconds (4.1 s of work read as 5 s). The time of the last answer is what was taken.
  const elapsedS =
    o.amount !== undefined && lastResponse > 0 ? (lastResponse - t0) / 1000 : (r.finish.getTime() - r.start.getTime()) / 1000;
  const ok = r['2xx'];
  return { ok, failed: r.non2xx + r.errors + r.timeouts, elapsedS, okPerS: ok / elapsedS, p50Ms: r.latency.p50, p99Ms: r.latency.p99 };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * The n-th of the `user_login` events the retention and rebuild scenarios seed: `perDay` a day from 2025-05-01,
 * one a second from midnight, 2,000 users.
 */
export function oldDayEvent(n: number, perDay: number): Record<string, unknown> {
  const s = n % 86_400;
  const time = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60].map((v) => String(v).padStart(2, '0')).join(':');
  return {
    event_type: 'user_login',
    timestamp: `2025-05-${String(Math.floor(n / perDay) + 1).padStart(2, '0')}T${time}Z`,
    metadata: { n, user_id: `user_${n % 2000}` },
  };
}
