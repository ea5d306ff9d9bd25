import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ClickHouseClient } from '@clickhouse/client';
import { CONSUMER_GROUP_QUERY_STORE, nowMicros, TOPIC_EVENTS } from '@app/contracts';
import {
  createClickHouse,
  DATABASE,
  EventSearch,
  EventStatistics,
  EventStoreRepository,
  migrateClickHouse,
  parseEventFilter,
  releaseChdb,
} from '@app/query';
import { percentile } from '../lib/load';
import { FLEET, mixSlots } from '../lib/mix';
import { QuerySpec } from '../lib/queries';

interface Input {
  dataDir: string;
  rows: number;
  days: number;
  queries: QuerySpec[];
  iterations: number;
}

const CHUNK = 1_000_000;

/** A uniform number in [0, 1) from row number n and a salt, so each attribute is independent and repeatable. */
const u = (salt: number): string => `(cityHash64(number, ${salt}) % 1000000007) / 1000000007.0`;

/**
 * Generates rows in the engine (INSERT ... SELECT from numbers()) with the same shape the projector writes:
 * catalogue types with a skewed mix, severities mostly the catalogue's, a fleet of sites, devices and users
 * with popular and rare members, and times spread over the last `days` days. The hourly view fills itself.
 */
function insertSql(nowUs: number, spanUs: number): string {
  const device = `toUInt32(floor(${FLEET.devices} * pow(${u(5)}, 1.5)))`;
  const site = `intDiv(device, ${FLEET.devices / FLEET.sites})`;
  const user = `toUInt32(floor(${FLEET.users} * pow(${u(6)}, 2)))`;
  return `
  INSERT INTO ${DATABASE}.events (tenant_id, id, schema_version, event_type, category, severity, description, metadata, metadata_json,
    timestamp, received_at, ip_address, user_agent, session_id, source, idempotency_key, log_partition, log_offset)
  SELECT 'default', generateUUIDv4(number), 1, event_type, category, severity,
    concat(description0, if(category = 'system_events', '', concat(': ', device_s, ' at ', site_s))),
    md, toJSONString(md),
    fromUnixTimestamp64Micro(ts_us, 'UTC'), fromUnixTimestamp64Micro(ts_us + toInt64(cityHash64(number, 9) % 2000000), 'UTC'),
    concat('10.', toString(site % 256), '.', toString(device % 256), '.', toString(intDiv(device, 256) % 256)),
    ['HOMEPOT-Agent/2.4.1', 'HOMEPOT-Agent/2.5.0', 'Mozilla/5.0 (X11; Linux x86_64)', 'python-requests/2.31'][1 + cityHash64(number, 11) % 4],
    concat('sess_', lower(hex(cityHash64(number, 10) % 100000000))),
    multiIf(category = 'device_management', 'device-agent', category = 'job_management', 'job-runner',
            category IN ('security_events', 'user_actions'), 'auth-service', category = 'system_events', 'homepot-core', 'homepot-api'),
    '', 0, number
  FROM (
    SELECT number,
      1 + cityHash64(number, 1) % length({types:Array(String)}) AS slot,
      {types:Array(String)}[slot] AS event_type,
      {categories:Array(String)}[slot] AS category,
      if(cityHash64(number, 3) % 100 < 3, ['debug', 'info', 'warning', 'error', 'critical'][1 + cityHash64(number, 4) % 5], {severities:Array(String)}[slot]) AS severity,
      {descriptions:Array(String)}[slot] AS description0,
      ${device} AS device,
      ${site} AS site,
      concat('POS_', leftPad(toString(device), 6, '0')) AS device_s,
      concat('SITE_', leftPad(toString(site), 4, '0')) AS site_s,
      if(cityHash64(number, 7) % 100 < 5, 'admin', concat('user_', leftPad(toString(${user}), 4, '0'))) AS user_s,
      mapFilter((k, v) -> v != '', map(
        'site_id', if(category = 'system_events', '', site_s),
        'device_id', if(category IN ('device_management', 'job_management', 'security_events'), device_s, ''),
        'device_type', if(category = 'device_management', 'pos_terminal', ''),
        'user_id', if(category IN ('user_actions', 'security_events'), user_s, ''),
        'job_id', if(category = 'job_management', concat('job_', toString(cityHash64(number, 8) % 1000000)), ''),
        'component', if(category = 'system_events', ['database', 'scheduler', 'api', 'backup'][1 + cityHash64(number, 12) % 4], '')
      )) AS md,
      toInt64(${nowUs} - 2000000 - toInt64(cityHash64(number, 2) % ${spanUs})) AS ts_us
    FROM numbers({start:UInt64}, {count:UInt64})
  )`;
}

async function timeQuery(store: EventSearch & EventStatistics & Pick<EventStoreRepository, 'timeline'>, spec: QuerySpec): Promise<number> {
  const [p, qs = ''] = spec.path.split('?');
  const t0 = performance.now();
  if (p === '/audit/statistics') await store.statistics('default', nowMicros());
  else if (p === '/audit/statistics/detailed') await store.detailedStatistics('default', nowMicros());
  else if (p === '/audit/statistics/timeline') {
    const q = new URLSearchParams(qs);
    await store.timeline('default', q.get('breakdown') === 'severity' ? 'severity' : 'category', Number(q.get('hours') ?? 24), nowMicros());
  } else {
    const { filter, page } = parseEventFilter(Object.fromEntries(new URLSearchParams(qs)), nowMicros());
    await store.search('default', filter, page);
  }
  return performance.now() - t0;
}

async function scalar(ch: ClickHouseClient, query: string): Promise<string> {
  const rs = await ch.query({ query, format: 'JSONEachRow' });
  const [row] = await rs.json<Record<string, string>>();
  return String(Object.values(row)[0]);
}

/**
 * Fills an app data directory before the app starts (only one chdb data directory may be open per process),
 * leaving it as if every row had come through the log and the log had since been truncated by retention:
 * the projector's progress row and the consumer group's cursor both point past the last generated offset,
 * so the app neither replays nor re-checks them. Then times the app's own repository calls on the engine
 * directly, without HTTP, as the limit for the same queries over HTTP.
 */
async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_INPUT ?? '{}') as Input;
  const ch = await createClickHouse({ kind: 'chdb', path: path.join(input.dataDir, 'clickhouse') });
  await migrateClickHouse(ch);
  const slots = mixSlots(10_000);
  const nowUs = nowMicros();
  const sql = insertSql(nowUs, input.days * 86400 * 1_000_000);
  const t0 = performance.now();
  for (let start = 0; start < input.rows; start += CHUNK) {
    await ch.command({
      query: sql,
      query_params: {
        types: slots.map((s) => s.event_type),
        categories: slots.map((s) => s.category),
        severities: slots.map((s) => s.severity),
        descriptions: slots.map((s) => s.description),
        start,
        count: Math.min(CHUNK, input.rows - start),
      },
      clickhouse_settings: { max_partitions_per_insert_block: '1000' },
    });
    process.stderr.write(`seeded ${Math.min(start + CHUNK, input.rows)} rows\n`);
  }
  const seedS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  // Old data sits in a few large parts in a running service; merge now so the app starts in that steady state.
  await ch.command({ query: `OPTIMIZE TABLE ${DATABASE}.events FINAL` });
  await ch.command({ query: `OPTIMIZE TABLE ${DATABASE}.events_hourly FINAL` });
  await ch.command({ query: `OPTIMIZE TABLE ${DATABASE}.events_daily_keys FINAL` });
  const optimizeS = (performance.now() - t1) / 1000;
  const lastOffset = input.rows - 1;
  await ch.insert({
    table: `${DATABASE}.consumer_progress`,
    values: [{ log_partition: 0, log_offset: String(lastOffset) }],
    format: 'JSONEachRow',
  });

  const logDir = path.join(input.dataDir, 'log');
  const topicDir = path.join(logDir, 'topics', TOPIC_EVENTS);
  mkdirSync(topicDir, { recursive: true });
  writeFileSync(path.join(topicDir, `${String(input.rows).padStart(20, '0')}.log`), '');
  mkdirSync(path.join(logDir, 'groups'), { recursive: true });
  writeFileSync(
    path.join(logDir, 'groups', `${CONSUMER_GROUP_QUERY_STORE}--${TOPIC_EVENTS}.json`),
    JSON.stringify({ offset: input.rows, segment: input.rows, position: 0 }),
  );

  const stored = Number(await scalar(ch, `SELECT count() FROM ${DATABASE}.events`));
  const hourly = Number(await scalar(ch, `SELECT sum(events) FROM ${DATABASE}.events_hourly`));
  const parts = Number(await scalar(ch, `SELECT count() FROM system.parts WHERE database = '${DATABASE}' AND table = 'events' AND active`));
  const bytes = Number(
    await scalar(ch, `SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '${DATABASE}' AND table = 'events' AND active`),
  );
  if (stored !== input.rows || hourly !== input.rows)
    throw new Error(`seeded ${stored} rows and ${hourly} hourly counts, expected ${input.rows}`);

  const store = new EventStoreRepository(ch);
  const times: Record<string, number[]> = Object.fromEntries(input.queries.map((q) => [q.name, []]));
  for (let i = 0; i < 3 + input.iterations; i++) {
    for (const q of input.queries) {
      const ms = await timeQuery(store, q);
      if (i >= 3) times[q.name].push(ms);
    }
  }
  const engine = Object.fromEntries(
    Object.entries(times).map(([name, t]) => {
      const s = [...t].sort((a, b) => a - b);
      return [name, { p50: percentile(s, 50), p95: percentile(s, 95) }];
    }),
  );
  await ch.close();
  await releaseChdb();
  process.stdout.write(`${JSON.stringify({ rows: stored, seedS, optimizeS, parts, bytes, engine })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
