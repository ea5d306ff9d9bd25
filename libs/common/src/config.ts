import * as path from 'node:path';
import { ConfigError } from './config-error';
import { env as readers } from './config-section';
import {
  ClickHouseTlsConfig,
  HttpTlsConfig,
  KafkaSecurityConfig,
  parseClickHouseTls,
  parseHttpTls,
  parseKafkaSecurity,
  parsePostgresSsl,
  PostgresSslConfig,
  TRANSPORT_TLS_ENV_VARS,
} from './transport-tls';

/**
 * Every setting the apps read, parsed and checked once at start-up. Nothing else reads process.env.
 * A bad value stops the process with a message naming the variable.
 */
export interface AppConfig {
  /** trustProxy: whether X-Forwarded-For is believed (true, or a list of proxy addresses/CIDRs). */
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    trustProxy: boolean | string[];
    /** Whole request (headers and body) must arrive within this; 0 turns it off. Responses (SSE) are not bound. */
    requestTimeoutMs: number;
    /** The headers must arrive within this. */
    headersTimeoutMs: number;
    /** Serve HTTPS with this certificate (AUDIT_TLS_*); plain HTTP when absent. */
    tls?: HttpTlsConfig;
  };
  /** Live SSE streams: caps, and when a client that does not read is dropped. */
  streams: { maxPerKey: number; maxTotal: number; stallTimeoutMs: number };
  /** Store queries from the HTTP API: how many run at once, how many wait, and the read-after-write bound. */
  queries: { concurrency: number; queue: number; readAfterWriteMs: number };
  dataDir: string;
  logLevel: string;
  defaultTenant: string;
  postgres: { kind: 'pglite'; dataDir: string } | { kind: 'pg'; url: string; ssl?: PostgresSslConfig };
  clickhouse:
    { kind: 'chdb'; path: string } | { kind: 'http'; url: string; username?: string; password?: string; tls?: ClickHouseTlsConfig };
  /**
   * The event log. Both kinds keep `hotWindowMs` of events and never drop what a registered consumer group
   * has not processed (docs/architecture.md, "System of record"). `registeredGroups`: Kafka groups the log
   * is held for even before they have committed anything (the embedded log registers a group on its first
   * subscribe).
   */
  kafka:
    | { kind: 'embedded'; fsync: boolean; hotWindowMs: number }
    | ({
        kind: 'kafka';
        brokers: string[];
        clientId: string;
        partitions: number;
        replicationFactor: number;
        hotWindowMs: number;
        registeredGroups: string[];
      } & KafkaSecurityConfig);
  batching: { maxEvents: number; intervalMs: number; produceLingerMs: number };
  /** The back-off of a consumer batch that failed, for every consumer group of both buses. */
  consumerRetry: { baseMs: number; maxMs: number };
  services: { ingest: { host: string; port: number }; query: { host: string; port: number } };
  healthPort: number;
  auth: { bootstrapKey?: string; allowAnonymousOnLoopback: boolean };
  selfAuditReads: boolean;
  rateLimitPerMinute: number;
  /** Failed authentications a client address may make in a minute before it gets 429 (AUDIT_AUTH_FAILURES_PER_MINUTE). */
  authFailuresPerMinute: number;
  /** Capabilities this process does not run (AUDIT_CAPABILITIES_OFF); their routes answer 404 capability_off. */
  capabilitiesOff: string[];
}

export { ConfigError };

const DAY_MS = 24 * 3600 * 1000;

type Env = Record<string, string | undefined>;

const { int, bool, url } = readers;

function trustProxy(env: Env): boolean | string[] {
  const raw = env.AUDIT_TRUST_PROXY;
  if (raw === undefined || raw === '') return false;
  if (/^(true|false|1|0|yes|no|on|off)$/i.test(raw)) return bool(env, 'AUDIT_TRUST_PROXY', false);
  const list = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const x of list) {
    if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(x)) throw new ConfigError('AUDIT_TRUST_PROXY', `entry '${x}' is not an address or CIDR`);
  }
  return list;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
export const isLoopback = (host: string): boolean => LOOPBACK.has(host) || host.startsWith('127.');

export function loadConfig(env: Env = process.env): AppConfig {
  const dataDir = path.resolve(env.AUDIT_DATA_DIR || './data');
  const logLevel = env.LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent; got '${logLevel}'`);
  }
  const tenant = env.AUDIT_DEFAULT_TENANT || 'default';
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(tenant)) throw new ConfigError('AUDIT_DEFAULT_TENANT', 'must match ^[a-z0-9][a-z0-9_-]{0,63}$');

  const pgUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const chUrl = url(env, 'CLICKHOUSE_URL', ['http:', 'https:']);
  const brokers = (env.KAFKA_BROKERS || '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  for (const b of brokers) if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(b)) throw new ConfigError('KAFKA_BROKERS', `entry '${b}' is not host:port`);

  const registeredGroups = (env.KAFKA_REGISTERED_GROUPS || '')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  registeredGroups.forEach((g, i) => {
    // Group ids a Kafka command line can name (the characters Kafka allows in topic names).
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(g)) {
      throw new ConfigError('KAFKA_REGISTERED_GROUPS', `entry ${i + 1} is not a consumer group id (letters, digits, '.', '_' and '-')`);
    }
  });

  const hotWindowMs = int(env, 'AUDIT_LOG_HOT_DAYS', 7, 1, 3650) * DAY_MS;
  const pgSsl = parsePostgresSsl(env, pgUrl);
  const chTls = parseClickHouseTls(env, chUrl);
  const kafkaSecurity = parseKafkaSecurity(env);
  if (brokers.length === 0 && (kafkaSecurity.ssl || kafkaSecurity.sasl)) {
    throw new ConfigError(
      kafkaSecurity.ssl ? 'AUDIT_KAFKA_SSL' : 'AUDIT_KAFKA_SASL_MECHANISM',
      'needs KAFKA_BROKERS (the embedded event log has no connection)',
    );
  }

  const bootstrapKey = env.AUDIT_BOOTSTRAP_API_KEY || undefined;
  // At most 256: longer keys are refused before any lookup (MAX_KEY_CHARS in libs/auth).
  if (bootstrapKey !== undefined && (bootstrapKey.length < 24 || bootstrapKey.length > 256)) {
    throw new ConfigError('AUDIT_BOOTSTRAP_API_KEY', 'must be 24 to 256 characters (generate one with `openssl rand -hex 24`)');
  }
  const host = env.HOST || '127.0.0.1';

  return {
    http: {
      host,
      port: int(env, 'PORT', 8000, 0, 65535),
      bodyLimitBytes: int(env, 'AUDIT_BODY_LIMIT_BYTES', 5 * 1024 * 1024, 1024, 64 * 1024 * 1024),
      trustProxy: trustProxy(env),
      requestTimeoutMs: int(env, 'AUDIT_HTTP_REQUEST_TIMEOUT_MS', 30_000, 0, 3_600_000),
      headersTimeoutMs: int(env, 'AUDIT_HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      tls: parseHttpTls(env),
    },
    streams: {
      maxPerKey: int(env, 'AUDIT_STREAM_MAX_PER_KEY', 10, 1, 100_000),
      maxTotal: int(env, 'AUDIT_STREAM_MAX_TOTAL', 200, 1, 100_000),
      stallTimeoutMs: int(env, 'AUDIT_STREAM_STALL_TIMEOUT_MS', 30_000, 100, 3_600_000),
    },
    queries: {
      concurrency: int(env, 'AUDIT_QUERY_CONCURRENCY', 4, 1, 1000),
      queue: int(env, 'AUDIT_QUERY_QUEUE', 64, 0, 100_000),
      readAfterWriteMs: int(env, 'AUDIT_READ_AFTER_WRITE_MS', 2000, 0, 60_000),
    },
    dataDir,
    logLevel,
    defaultTenant: tenant,
    postgres: pgUrl ? { kind: 'pg', url: pgUrl, ssl: pgSsl } : { kind: 'pglite', dataDir: path.join(dataDir, 'postgres') },
    clickhouse: chUrl
      ? { kind: 'http', url: chUrl, username: env.CLICKHOUSE_USER || undefined, password: env.CLICKHOUSE_PASSWORD || undefined, tls: chTls }
      : { kind: 'chdb', path: path.join(dataDir, 'clickhouse') },
    kafka:
      brokers.length > 0
        ? {
            kind: 'kafka',
            brokers,
            clientId: env.KAFKA_CLIENT_ID || 'homepot-audit',
            partitions: int(env, 'KAFKA_TOPIC_PARTITIONS', 6, 1, 1000),
            replicationFactor: int(env, 'KAFKA_REPLICATION_FACTOR', 1, 1, 10),
            hotWindowMs,
            registeredGroups,
            ...kafkaSecurity,
          }
        : { kind: 'embedded', fsync: bool(env, 'AUDIT_LOG_FSYNC', true), hotWindowMs },
    batching: {
      maxEvents: int(env, 'AUDIT_BATCH_MAX_EVENTS', 10_000, 1, 1_000_000),
      intervalMs: int(env, 'AUDIT_BATCH_INTERVAL_MS', 200, 0, 60_000),
      produceLingerMs: int(env, 'AUDIT_PRODUCE_LINGER_MS', 2, 0, 1000),
    },
    consumerRetry: {
      baseMs: int(env, 'AUDIT_CONSUMER_RETRY_BASE_MS', 100, 1, 3_600_000),
      maxMs: int(env, 'AUDIT_CONSUMER_RETRY_MAX_MS', 30_000, 1, 3_600_000),
    },
    services: {
      ingest: { host: env.INGEST_SERVICE_HOST || '127.0.0.1', port: int(env, 'INGEST_SERVICE_PORT', 4001, 1, 65535) },
      query: { host: env.QUERY_SERVICE_HOST || '127.0.0.1', port: int(env, 'QUERY_SERVICE_PORT', 4002, 1, 65535) },
    },
    healthPort: int(env, 'HEALTH_PORT', 8081, 0, 65535),
    auth: { bootstrapKey, allowAnonymousOnLoopback: bool(env, 'AUDIT_ALLOW_ANONYMOUS_LOOPBACK', true) },
    selfAuditReads: bool(env, 'AUDIT_SELF_AUDIT_READS', true),
    rateLimitPerMinute: int(env, 'AUDIT_RATE_LIMIT_PER_MINUTE', 60_000, 1, 10_000_000),
    authFailuresPerMinute: int(env, 'AUDIT_AUTH_FAILURES_PER_MINUTE', 30, 1, 1_000_000),
    capabilitiesOff: capabilitiesOff(env),
  };
}

/** Names only here; which capabilities exist (and which cannot be turned off) is checked where they are composed. */
function capabilitiesOff(env: Env): string[] {
  const list = (env.AUDIT_CAPABILITIES_OFF || '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const name of list) {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(name)) throw new ConfigError('AUDIT_CAPABILITIES_OFF', `entry '${name}' is not a capability name`);
  }
  return [...new Set(list)];
}

/** Every environment variable `loadConfig` reads: the deployment manifests are checked against this list. */
export const KNOWN_ENV_VARS = [
  'HOST',
  'PORT',
  'AUDIT_BODY_LIMIT_BYTES',
  'AUDIT_TRUST_PROXY',
  'AUDIT_HTTP_REQUEST_TIMEOUT_MS',
  'AUDIT_HTTP_HEADERS_TIMEOUT_MS',
  'AUDIT_STREAM_MAX_PER_KEY',
  'AUDIT_STREAM_MAX_TOTAL',
  'AUDIT_STREAM_STALL_TIMEOUT_MS',
  'AUDIT_QUERY_CONCURRENCY',
  'AUDIT_QUERY_QUEUE',
  'AUDIT_READ_AFTER_WRITE_MS',
  'AUDIT_DATA_DIR',
  'LOG_LEVEL',
  'AUDIT_DEFAULT_TENANT',
  'DATABASE_URL',
  'CLICKHOUSE_URL',
  'CLICKHOUSE_USER',
  'CLICKHOUSE_PASSWORD',
  'KAFKA_BROKERS',
  'KAFKA_CLIENT_ID',
  'KAFKA_TOPIC_PARTITIONS',
  'KAFKA_REPLICATION_FACTOR',
  'AUDIT_LOG_FSYNC',
  'AUDIT_LOG_HOT_DAYS',
  'KAFKA_REGISTERED_GROUPS',
  'AUDIT_BATCH_MAX_EVENTS',
  'AUDIT_BATCH_INTERVAL_MS',
  'AUDIT_PRODUCE_LINGER_MS',
  'AUDIT_CONSUMER_RETRY_BASE_MS',
  'AUDIT_CONSUMER_RETRY_MAX_MS',
  'INGEST_SERVICE_HOST',
  'INGEST_SERVICE_PORT',
  'QUERY_SERVICE_HOST',
  'QUERY_SERVICE_PORT',
  'HEALTH_PORT',
  'AUDIT_BOOTSTRAP_API_KEY',
  'AUDIT_ALLOW_ANONYMOUS_LOOPBACK',
  'AUDIT_SELF_AUDIT_READS',
  'AUDIT_RATE_LIMIT_PER_MINUTE',
  'AUDIT_AUTH_FAILURES_PER_MINUTE',
  ...TRANSPORT_TLS_ENV_VARS,
  'AUDIT_CAPABILITIES_OFF',
] as const;

/** Paths every app serves for probes and scraping (the API gateway on PORT, the other services on HEALTH_PORT). */
export const HEALTH_PATHS = { live: '/health/live', ready: '/health/ready', metrics: '/metrics' } as const;

/** The deployable apps and the entry file each runs. */
export const APPS = {
  'all-in-one': 'dist/apps/all-in-one/src/main.js',
  'api-gateway': 'dist/apps/api-gateway/src/main.js',
  'ingest-gateway': 'dist/apps/ingest-gateway/src/main.js',
  'query-store': 'dist/apps/query-store/src/main.js',
  reporting: 'dist/apps/reporting/src/main.js',
  alerting: 'dist/apps/alerting/src/main.js',
  integrity: 'dist/apps/integrity/src/main.js',
  'siem-forwarder': 'dist/apps/siem-forwarder/src/main.js',
  retention: 'dist/apps/retention/src/main.js',
} as const;

/** Offline commands the image runs by name like an app (docker/entrypoint.sh), e.g. with the query-stores stopped. */
export const TOOLS = {
  'reconcile-rollup': 'dist/apps/query-store/src/reconcile-rollup.js',
  'verify-integrity': 'dist/apps/integrity/src/verify-cli.js',
  'rebuild-store': 'dist/apps/all-in-one/src/rebuild-cli.js',
} as const;
