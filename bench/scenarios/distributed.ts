import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { acquireExclusiveLock, LockTimeoutError } from '@app/common';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { percentile, postLoad } from '../lib/load';
import { eventBatch, SINGLE_EVENT } from '../lib/mix';
import {
  authedGet,
  AUTH_HEADERS,
  BENCH_API_KEY,
  Child,
  consumerStats,
  describeConsumer,
  DIST,
  freePort,
  processCpuSeconds,
  ROOT,
  runWorker,
  sleep,
  startNode,
  stop,
  waitForHttp,
} from '../lib/processes';
import { Row } from '../lib/report';

const APPS = path.join(DIST, 'apps');
const GATEWAY = path.join(APPS, 'api-gateway', 'src', 'main.js');
const BATCH = 1000;
const CONNECTIONS = 4;
const PARTITIONS = 6;
const BROKERS = process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;
const POSTGRES_ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
class Skip extends Error {}

/** The integration suites share the broker and the consumer group: wait for them, or skip. */
async function acquireLock(timeoutMs: number): Promise<() => void> {
  try {
    return await acquireExclusiveLock(timeoutMs);
  } catch (e) {
    if (e instanceof LockTimeoutError) throw new Skip(`the broker is in use by integration tests (${e.message})`);
    throw e;
  }
}

function kafkaScript(command: string): { ok: boolean; output: string } {
  const r = spawnSync('bash', ['scripts/kafka.sh', command], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await authedGet(url, 30_000);
  return { status: res.status, body: (await res.json()) as T };
}

const total = async (gateway: string): Promise<number> => (await getJson<{ total: number }>(`${gateway}/audit/events?limit=1`)).body.total;

const PROBE_TYPE = 'bench_visibility_probe';

/**
 * One event every `everyMs` while the load runs; one poller asks every `pollMs` for all probes the query path
 * returns (an event type of their own, which the sort key finds in a few granules) and takes each new one's
 * time from its 2xx to visible, under load. One cheap query per poll however many probes are outstanding, so
 * the probe does not load the store with lookups that grow with the lag it measures. Resolution is the poll
 * interval.
 */
function startProbes(
  gateway: string,
  everyMs: number,
  pollMs: number,
): { stop(): Promise<{ latencies: number[]; sent: number; lost: number }> } {
  const latencies: number[] = [];
  const outstanding = new Map<string, number>();
  const posts = new Set<Promise<void>>();
  let running = true;
  let sent = 0;
  const probe = async (): Promise<void> => {
    const res = await fetch(`${gateway}/audit/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH_HEADERS },
      body: JSON.stringify({ ...SINGLE_EVENT, event_type: PROBE_TYPE, category: 'system_events' }),
    });
    const acked = performance.now();
    const body = (await res.json()) as { id?: string };
    if (res.status !== 201 || !body.id) return;
    sent++;
    outstanding.set(body.id, acked);
  };
  const poll = async (): Promise<void> => {
    const r = await getJson<{ events: Array<{ id: string }> }>(`${gateway}/audit/events?event_type=${PROBE_TYPE}&since=15m&limit=1000`);
    const now = performance.now();
    if (r.status !== 200) return;
    for (const e of r.body.events) {
      const acked = outstanding.get(e.id);
      if (acked === undefined) continue;
      latencies.push(now - acked);
      outstanding.delete(e.id);
    }
  };
  const sender = (async () => {
    while (running) {
      const p = probe().catch(() => undefined);
      posts.add(p);
      void p.finally(() => posts.delete(p));
      await sleep(everyMs);
    }
  })();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      await sleep(pollMs);
      await poll().catch(() => undefined);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await sender;
      await Promise.all(posts);
      const deadline = performance.now() + 120_000;
      while (outstanding.size > 0 && performance.now() < deadline) await sleep(pollMs);
      polling = false;
      await poller;
      return { latencies, sent, lost: outstanding.size };
    },
  };
}

/**
 * POST batches of 1,000 events to the api-gateway (→ ingest-gateway → Kafka → query-store, each its own
 * process) against kafkajs producing the same messages straight to the same broker.
 */
export async function distributedIngest(ctx: BenchContext): Promise<Row[]> {
  const scenario = 'Distributed ingest';
  const skipped = (reason: string): Row[] => {
    ctx.log(`distributed ingest: skipped, ${reason}`);
    return [{ scenario, measure: 'gateway → Kafka → query store', service: null, limit: null, limitIs: '', unit: '', skipped: reason }];
  };
  if (!existsSync(GATEWAY)) return skipped('dist/apps/api-gateway/src/main.js does not exist (distributed apps not built)');

  const durationS = ctx.full ? 60 : 20;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  try {
    const release = await acquireLock(ctx.full ? 10 * 60_000 : 2 * 60_000);
    cleanups.push(release);
    const wasRunning = kafkaScript('status').ok;
    const started = kafkaScript('start');
    if (!started.ok) throw new Skip(`the Kafka broker could not start (bash scripts/kafka.sh start): ${started.output.split('\n').pop()}`);
    if (!wasRunning) cleanups.push(() => kafkaScript('stop'));

    const database = `homepot_bench_${process.pid}`;
    const admin = new Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
    try {
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`);
    } catch (e) {
      throw new Skip(`Postgres is not reachable at ${POSTGRES_ADMIN_URL} (set BENCH_POSTGRES_URL): ${(e as Error).message}`);
    } finally {
      await admin.end().catch(() => undefined);
    }
    cleanups.push(async () => {
      const c = new Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await c.end();
    });
    const databaseUrl = new URL(POSTGRES_ADMIN_URL);
    databaseUrl.pathname = `/${database}`;

    const produceBatches = (ctx.full ? 1000 : 200) as number;
    ctx.log(`distributed ingest: raw kafkajs produce of ${produceBatches * BATCH} messages to ${BROKERS}`);
    const raw = await runWorker<{ messages: number; perS: number }>(
      'kafka-produce',
      path.join(DIST, 'bench', 'workers', 'kafka-produce.js'),
      {
        brokers: BROKERS.split(','),
        partitions: PARTITIONS,
        batches: produceBatches,
        batchSize: BATCH,
        concurrency: CONNECTIONS,
      },
    );
    ctx.log(`  ${raw.perS.toFixed(0)} messages/s`);

    const dir = freshDir(ctx, 'distributed');
    cleanups.push(() => removeDir(dir));
    const ports = {
      ingest: await freePort(),
      ingestHealth: await freePort(),
      query: await freePort(),
      queryHealth: await freePort(),
      http: await freePort(),
    };
    const base: Record<string, string> = {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      KAFKA_BROKERS: BROKERS,
      KAFKA_CLIENT_ID: 'homepot-bench',
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      INGEST_SERVICE_HOST: '127.0.0.1',
      INGEST_SERVICE_PORT: String(ports.ingest),
      QUERY_SERVICE_HOST: '127.0.0.1',
      QUERY_SERVICE_PORT: String(ports.query),
      AUDIT_SELF_AUDIT_READS: 'false',
      AUDIT_RATE_LIMIT_PER_MINUTE: '10000000',
    };
    const app = (name: string, env: Record<string, string>): Child => {
      const child = startNode(
        name,
        path.join(APPS, name, 'src', 'main.js'),
        { ...base, AUDIT_DATA_DIR: path.join(dir, name), ...env },
        ctx.serviceNodeArgs,
      );
      cleanups.push(() => stop(child));
      return child;
    };
    ctx.log('distributed ingest: starting ingest-gateway, query-store and api-gateway');
    const ingest = app('ingest-gateway', { DATABASE_URL: databaseUrl.toString(), HEALTH_PORT: String(ports.ingestHealth) });
    const query = app('query-store', { HEALTH_PORT: String(ports.queryHealth) });
    await Promise.all([
      waitForHttp(`http://127.0.0.1:${ports.ingestHealth}/health/ready`, ingest),
      waitForHttp(`http://127.0.0.1:${ports.queryHealth}/health/ready`, query),
    ]);
    const gatewayChild = app('api-gateway', {
      DATABASE_URL: databaseUrl.toString(),
      PORT: String(ports.http),
      AUDIT_BOOTSTRAP_API_KEY: BENCH_API_KEY,
    });
    const gateway = `http://127.0.0.1:${ports.http}`;
    await waitForHttp(`${gateway}/health/ready`, gatewayChild);

    // The query-store joins the shared consumer group at its committed offsets; wait until it has settled.
    const body = JSON.stringify(eventBatch(BATCH));
    await postLoad({ url: `${gateway}/audit/events`, body, connections: 1, amount: 2 });
    let before = -1;
    for (let stable = 0; stable < 3;) {
      await sleep(1000);
      const now = await total(gateway);
      stable = now === before && now >= 2 * BATCH ? stable + 1 : 0;
      before = now;
    }

    ctx.log(`distributed ingest: ${durationS} s of batches over ${CONNECTIONS} connections, with a visibility probe every 250 ms`);
    const brokerPid = Number(
      spawnSync('bash', ['-c', 'cat "${KAFKA_HOME_DIR:-$HOME/.cache/homepot-kafka}/run/kafka.pid"'], { encoding: 'utf8' }).stdout.trim(),
    );
    const pids: Record<string, number> = {
      'api-gateway': gatewayChild.proc.pid!,
      'ingest-gateway': ingest.proc.pid!,
      'query-store': query.proc.pid!,
      broker: brokerPid,
    };
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)]));
    const metricsUrl = `http://127.0.0.1:${ports.queryHealth}/metrics`;
    const consumer0 = await consumerStats(metricsUrl);
    const probes = startProbes(gateway, 250, 50);
    const t0 = performance.now();
    const load = await postLoad({ url: `${gateway}/audit/events`, body, connections: CONNECTIONS, durationS });
    const probed = await probes.stop();
    // Requests still in flight when autocannon stops are not in its count but may be stored, so the end is
    // when the total stops growing after reaching what was counted; visible is when it first got there.
    const expected = before + load.ok * BATCH + probed.sent;
    const deadline = Date.now() + 600_000;
    let seen = await total(gateway);
    let reachedAt = performance.now();
    while (Date.now() < deadline) {
      await sleep(200);
      const now = await total(gateway);
      if (now !== seen) {
        seen = now;
        reachedAt = performance.now();
      } else if (seen >= expected && performance.now() - reachedAt > 3000) break;
    }
    const stored = seen - before - probed.sent;
    const cpu = Object.entries(pids).map(([k, pid]) => `${k} ${(processCpuSeconds(pid) - cpu0[k]).toFixed(1)} s`);
    ctx.log(`  ${describeConsumer(consumer0, await consumerStats(metricsUrl))}`);
    ctx.log(`  CPU until visible (${((reachedAt - t0) / 1000).toFixed(0)} s wall, 2 cores): ${cpu.join(', ')}`);
    const acked = (load.ok * BATCH) / load.elapsedS;
    const visible = stored / ((reachedAt - t0) / 1000);
    const lat = [...probed.latencies].sort((a, b) => a - b);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    ctx.log(
      `  acknowledged ${acked.toFixed(0)} events/s, visible ${visible.toFixed(0)} events/s (${stored} stored), ` +
        `2xx→visible p50 ${p50.toFixed(0)} ms p99 ${p99.toFixed(0)} ms over ${lat.length} probes (${probed.lost} not seen in 120 s)`,
    );
    // The same path at half the rate it just sustained, so it is not falling behind: the time to visible that
    // a deployment sized for its load sees (under the overload above it is the length of the queue).
    const pacedRate = Math.max(1, Math.round((visible / BATCH) * 0.5));
    ctx.log(`distributed ingest: ${durationS} s paced at ${pacedRate * BATCH} events/s, with a visibility probe every 250 ms`);
    const pacedProbes = startProbes(gateway, 250, 50);
    const paced = await postLoad({ url: `${gateway}/audit/events`, body, connections: 1, durationS, overallRate: pacedRate });
    const pacedProbed = await pacedProbes.stop();
    const pacedLat = [...pacedProbed.latencies].sort((a, b) => a - b);
    const pacedP50 = percentile(pacedLat, 50);
    const pacedP99 = percentile(pacedLat, 99);
    const pacedPerS = (paced.ok * BATCH) / paced.elapsedS;
    ctx.log(
      `  paced: acknowledged ${pacedPerS.toFixed(0)} events/s, 2xx→visible p50 ${pacedP50.toFixed(0)} ms p99 ${pacedP99.toFixed(0)} ms ` +
        `over ${pacedLat.length} probes (${pacedProbed.lost} not seen in 120 s)`,
    );
    const note = `${(load.ok * BATCH).toLocaleString('en-US')} events in ${durationS} s, ${CONNECTIONS} connections, ${PARTITIONS} partitions${load.failed ? `, ${load.failed} failed requests` : ''}`;
    const limitIs = 'kafkajs produce, same messages & broker';
    return [
      { scenario, measure: 'events/s acknowledged (2xx)', service: acked, limit: raw.perS, limitIs, unit: 'ev/s', note },
      {
        scenario,
        measure: 'events/s until visible in GET total',
        service: visible,
        limit: raw.perS,
        limitIs,
        unit: 'ev/s',
        target: '≥ 50,000 ev/s',
        met: visible >= 50_000,
      },
      {
        scenario,
        measure: '2xx → visible p50 (probe under load)',
        service: p50,
        limit: null,
        limitIs: '',
        unit: 'ms',
        note: `${lat.length} probes, all polled by one query every 50 ms`,
      },
      {
        scenario,
        measure: '2xx → visible p99 (probe under load)',
        service: p99,
        limit: null,
        limitIs: '',
        unit: 'ms',
        target: '< 2,000 ms',
        met: p99 < 2000 && probed.lost === 0,
      },
      {
        scenario,
        measure: `2xx → visible p50 at ${Math.round(pacedPerS).toLocaleString('en-US')} events/s (half the visible rate)`,
        service: pacedP50,
        limit: null,
        limitIs: '',
        unit: 'ms',
        note: `${pacedLat.length} probes`,
      },
      {
        scenario,
        measure: `2xx → visible p99 at ${Math.round(pacedPerS).toLocaleString('en-US')} events/s (half the visible rate)`,
        service: pacedP99,
        limit: null,
        limitIs: '',
        unit: 'ms',
        target: '< 2,000 ms',
        met: pacedP99 < 2000 && pacedProbed.lost === 0,
      },
    ];
  } catch (e) {
    if (e instanceof Skip) return skipped(e.message);
    // The broker is shared: a test run that started it stops it when it ends, whoever else is using it.
    if (!kafkaScript('status').ok) {
      return skipped(`the Kafka broker stopped during the run (another process sharing it stopped it): ${(e as Error).message}`);
    }
    throw e;
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        ctx.log(`distributed ingest: clean-up step failed: ${(e as Error).message}`);
      }
    }
  }
}
