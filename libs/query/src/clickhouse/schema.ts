/**
 * The query store's DDL, in one place for both modes (chdb in-process and a ClickHouse server).
 * Statements are idempotent; `schemaStatements` runs them in order at start-up.
 */
export const DATABASE = 'audit';

/**
 * Site, device and user lookups. The events of one device are spread over half the granules of a time-ordered
 * table (763 rows of 10M in 585 of 1,226 granules), so a bloom filter skip index prunes nothing. Each of these
 * projections holds the key, the catalogue columns and the row's position (_part_offset), sorted by the key:
 * counts are answered from it (a device's events: 110 ms to 4 ms at 10M rows; user_actions of one user: 38 ms
 * to 8 ms) and pages read only the granules that hold the key's rows. ReplacingMergeTree needs
 * `deduplicate_merge_projection_mode` to keep projections through merges.
 */
const LOOKUP_PROJECTIONS = ['site_id', 'device_id', 'metadata_user_id'].map(
  (key) => `PROJECTION p_${key} (SELECT _part_offset, category, event_type, severity ORDER BY tenant_id, ${key}, timestamp)`,
);

/**
 * All-time totals per tenant, category, type and severity, kept inside the hourly roll-up: the statistics
 * endpoints read a few hundred rows per part instead of every hour (173k rows at 10M events, 15-20 ms to 3-4 ms).
 */
const HOURLY_TOTALS_PROJECTION =
  'PROJECTION p_totals (SELECT tenant_id, category, event_type, severity, sum(events) GROUP BY tenant_id, category, event_type, severity)';

/** The keys counted per day in events_daily_keys: the dimension's name there, and the events column. */
export const DAILY_KEY_DIMENSIONS = [
  ['site', 'site_id'],
  ['device', 'device_id'],
  ['user', 'user_id'],
  ['source', 'source'],
] as const;

/** What the hourly roll-up's view computes from inserted rows; `where` selects rows to count again. */
export function hourlyRollupSelect(db = DATABASE, where = ''): string {
  return `SELECT tenant_id, toStartOfHour(timestamp) AS hour, category, event_type, severity, count() AS events
    FROM ${db}.events ${where ? `WHERE ${where}` : ''}
    GROUP BY tenant_id, hour, category, event_type, severity`;
}

/** What the daily key counts' view computes from inserted rows; `where` selects rows to count again. */
export function dailyKeysRollupSelect(db = DATABASE, where = ''): string {
  return `SELECT tenant_id, dk.1 AS dimension, toDate(timestamp) AS day, dk.2 AS key, count() AS events
    FROM ${db}.events
    ARRAY JOIN [${DAILY_KEY_DIMENSIONS.map(([name, column]) => `('${name}', ${column})`).join(', ')}] AS dk
    WHERE dk.2 != ''${where ? ` AND ${where}` : ''}
    GROUP BY tenant_id, dimension, day, key`;
}

export function schemaStatements(db = DATABASE): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    // One wide table. The sort key starts with tenant and hour so time-bounded, newest-first pages read
    // in order and stop early; category and event type next so their filters prune granules within an hour.
    // ReplacingMergeTree is only the backstop for duplicates: the projector drops redelivered ids before insert.
    `CREATE TABLE IF NOT EXISTS ${db}.events
    (
      tenant_id       LowCardinality(String),
      id              UUID,
      schema_version  UInt8,
      event_type      LowCardinality(String),
      category        LowCardinality(String),
      severity        LowCardinality(String),
      description     String CODEC(ZSTD(1)),
      metadata        Map(LowCardinality(String), String) CODEC(ZSTD(1)),
      metadata_json   String CODEC(ZSTD(1)),
      timestamp       DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
      received_at     DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
      ip_address      String,
      user_agent      LowCardinality(String),
      session_id      String,
      source          LowCardinality(String),
      sequence        Nullable(UInt64),
      idempotency_key String,
      log_partition   UInt16,
      log_offset      UInt64,
      site_id         String MATERIALIZED metadata['site_id'],
      device_id       String MATERIALIZED metadata['device_id'],
      user_id         String MATERIALIZED if(metadata['user_id'] != '', metadata['user_id'], metadata['operator_id']),
      metadata_user_id String MATERIALIZED metadata['user_id'],
      INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
      INDEX idx_meta_keys mapKeys(metadata) TYPE bloom_filter(0.01) GRANULARITY 1,
      INDEX idx_meta_values mapValues(metadata) TYPE bloom_filter(0.01) GRANULARITY 1,
      INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 1,
      INDEX idx_severity severity TYPE set(8) GRANULARITY 1,
      INDEX idx_offset log_offset TYPE minmax GRANULARITY 1,
      INDEX idx_description description TYPE ngrambf_v1(3, 65536, 2, 0) GRANULARITY 4,
      ${LOOKUP_PROJECTIONS.join(',\n      ')}
    )
    ENGINE = ReplacingMergeTree(received_at)
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (tenant_id, toStartOfHour(timestamp), category, event_type, timestamp, id)
    SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 10000, deduplicate_merge_projection_mode = 'rebuild'`,
    // Tables created before the user column and the lookup projections: the same shape, reached by ALTER.
    `ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS metadata_user_id String MATERIALIZED metadata['user_id'] AFTER user_id`,
    `ALTER TABLE ${db}.events MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'`,
    // The producer's per-source counter (completeness tracking), returned as stored; NULL when none was sent.
    `ALTER TABLE ${db}.events ADD COLUMN IF NOT EXISTS sequence Nullable(UInt64) AFTER source`,
    ...LOOKUP_PROJECTIONS.map((p) => `ALTER TABLE ${db}.events ADD ${p.replace('PROJECTION', 'PROJECTION IF NOT EXISTS')}`),
    `ALTER TABLE ${db}.events DROP INDEX IF EXISTS idx_site`,
    `ALTER TABLE ${db}.events DROP INDEX IF EXISTS idx_device`,
    // Pre-aggregated counts so the statistics endpoints never scan raw rows.
    `CREATE TABLE IF NOT EXISTS ${db}.events_hourly
    (
      tenant_id  LowCardinality(String),
      hour       DateTime('UTC'),
      category   LowCardinality(String),
      event_type LowCardinality(String),
      severity   LowCardinality(String),
      events     UInt64,
      ${HOURLY_TOTALS_PROJECTION}
    )
    ENGINE = SummingMergeTree(events)
    PARTITION BY toYYYYMM(hour)
    ORDER BY (tenant_id, hour, category, event_type, severity)
    SETTINGS deduplicate_merge_projection_mode = 'rebuild', non_replicated_deduplication_window = 10000`,
    `ALTER TABLE ${db}.events_hourly MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'`,
    // The roll-ups keep insert dedup tokens too, so a retried insert (the same token, from a redelivery or a
    // split refused insert redone) is a no-op for them as it is for the events: without a window here the
    // events table dropped the retry but the views counted it again (100 rows inserted twice: 100 events,
    // 200 in events_hourly, on ClickHouse 26.7). No measurable cost per insert.
    `ALTER TABLE ${db}.events_hourly MODIFY SETTING non_replicated_deduplication_window = 10000`,
    `ALTER TABLE ${db}.events_hourly ADD ${HOURLY_TOTALS_PROJECTION.replace('PROJECTION', 'PROJECTION IF NOT EXISTS')}`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.events_hourly_mv TO ${db}.events_hourly AS ${hourlyRollupSelect(db)}`,
    // Per tenant, UTC day and key, how many events named each site, device, user and source: the detailed
    // statistics' top lists read 7 days of these (about 150,000 rows at 20,000 devices) instead of grouping
    // a week of raw events four ways (1.2M rows at 10M events over 60 days: 145 ms to about 20 ms).
    `CREATE TABLE IF NOT EXISTS ${db}.events_daily_keys
    (
      tenant_id LowCardinality(String),
      dimension LowCardinality(String),
      day       Date,
      key       String,
      events    UInt64
    )
    ENGINE = SummingMergeTree(events)
    PARTITION BY toYYYYMM(day)
    ORDER BY (tenant_id, dimension, day, key)
    SETTINGS non_replicated_deduplication_window = 10000`,
    `ALTER TABLE ${db}.events_daily_keys MODIFY SETTING non_replicated_deduplication_window = 10000`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.events_daily_keys_mv TO ${db}.events_daily_keys AS ${dailyKeysRollupSelect(db)}`,
    // How far each log partition has been written: the live stream never reads past it, so it cannot
    // skip an event whose batch was still being inserted.
    `CREATE TABLE IF NOT EXISTS ${db}.consumer_progress
    (
      log_partition UInt16,
      log_offset    UInt64,
      updated_at    DateTime64(3, 'UTC') DEFAULT now64(3)
    )
    ENGINE = ReplacingMergeTree(log_offset)
    ORDER BY log_partition`,
  ];
}
