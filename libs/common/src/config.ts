import * as path from 'node:path';

/**
 * Every setting the apps read, parsed and checked once at start-up. Nothing else reads process.env.
 * A bad value stops the process with a message naming the variable.
 */
export interface AppConfig {
  /** trustProxy: whether X-Forwarded-For is believed (true, or a list of proxy addresses/CIDRs). */
  http: { host: string; port: number; bodyLimitBytes: number; trustProxy: boolean | string[] };
  dataDir: string;
  logLevel: string;
  defaultTenant: string;
  postgres: { kind: 'pglite'; dataDir: string } | { kind: 'pg'; url: string };
  clickhouse: { kind: 'chdb'; path: string } | { kind: 'http'; url: string; username?: string; password?: string };
  /**
   * The event log. Both kinds keep `hotWindowMs` of events and never drop what a registered consumer group
   * has not processed (docs/architecture.md, "System of record"). `registeredGroups`: Kafka groups the log
   * is held for even before they have committed anything (the embedded log registers a group on its first
   * subscribe).
   */
  kafka:
    | { kind: 'embedded'; fsync: boolean; hotWindowMs: number }
    | {
        kind: 'kafka';
        brokers: string[];
        clientId: string;
        partitions: number;
        replicationFactor: number;
        hotWindowMs: number;
        registeredGroups: string[];
      };
  batching: { maxEvents: number; intervalMs: number; produceLingerMs: number };
  services: { ingest: { host: string; port: number }; query: { host: string; port: number } };
  healthPort: number;
  auth: { bootstrapKey?: string; allowAnonymousOnLoopback: boolean };
  selfAuditReads: boolean;
  rateLimitPerMinute: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`configuration error: ${variable} ${message}`);
  }
}

const DAY_MS = 24 * 3600 * 1000;

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false, got '${raw}'`);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}`);
  return raw;
}

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

  const bootstrapKey = env.AUDIT_BOOTSTRAP_API_KEY || undefined;
  if (bootstrapKey !== undefined && bootstrapKey.length < 24) {
    throw new ConfigError('AUDIT_BOOTSTRAP_API_KEY', 'must be at least 24 characters (generate one with `openssl rand -hex 24`)');
  }
  const host = env.HOST || '127.0.0.1';

  return {
    http: {
      host,
      port: int(env, 'PORT', 8000, 0, 65535),
      bodyLimitBytes: int(env, 'AUDIT_BODY_LIMIT_BYTES', 5 * 1024 * 1024, 1024, 64 * 1024 * 1024),
      trustProxy: trustProxy(env),
    },
    dataDir,
    logLevel,
    defaultTenant: tenant,
    postgres: pgUrl ? { kind: 'pg', url: pgUrl } : { kind: 'pglite', dataDir: path.join(dataDir, 'postgres') },
    clickhouse: chUrl
      ? { kind: 'http', url: chUrl, username: env.CLICKHOUSE_USER || undefined, password: env.CLICKHOUSE_PASSWORD || undefined }
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
          }
        : { kind: 'embedded', fsync: bool(env, 'AUDIT_LOG_FSYNC', true), hotWindowMs },
    batching: {
      maxEvents: int(env, 'AUDIT_BATCH_MAX_EVENTS', 10_000, 1, 1_000_000),
      intervalMs: int(env, 'AUDIT_BATCH_INTERVAL_MS', 200, 0, 60_000),
      produceLingerMs: int(env, 'AUDIT_PRODUCE_LINGER_MS', 2, 0, 1000),
    },
    services: {
      ingest: { host: env.INGEST_SERVICE_HOST || '127.0.0.1', port: int(env, 'INGEST_SERVICE_PORT', 4001, 1, 65535) },
      query: { host: env.QUERY_SERVICE_HOST || '127.0.0.1', port: int(env, 'QUERY_SERVICE_PORT', 4002, 1, 65535) },
    },
    healthPort: int(env, 'HEALTH_PORT', 8081, 0, 65535),
    auth: { bootstrapKey, allowAnonymousOnLoopback: bool(env, 'AUDIT_ALLOW_ANONYMOUS_LOOPBACK', true) },
    selfAuditReads: bool(env, 'AUDIT_SELF_AUDIT_READS', true),
    rateLimitPerMinute: int(env, 'AUDIT_RATE_LIMIT_PER_MINUTE', 60_000, 1, 10_000_000),
  };
}

/** Every environment variable `loadConfig` reads: the deployment manifests are checked against this list. */
export const KNOWN_ENV_VARS = [
  'HOST',
  'PORT',
  'AUDIT_BODY_LIMIT_BYTES',
  'AUDIT_TRUST_PROXY',
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
  'INGEST_SERVICE_HOST',
  'INGEST_SERVICE_PORT',
  'QUERY_SERVICE_HOST',
  'QUERY_SERVICE_PORT',
  'HEALTH_PORT',
  'AUDIT_BOOTSTRAP_API_KEY',
  'AUDIT_ALLOW_ANONYMOUS_LOOPBACK',
  'AUDIT_SELF_AUDIT_READS',
  'AUDIT_RATE_LIMIT_PER_MINUTE',
] as const;

/** Paths every app serves for probes and scraping (the API gateway on PORT, the other services on HEALTH_PORT). */
export const HEALTH_PATHS = { live: '/health/live', ready: '/health/ready', metrics: '/metrics' } as const;

/** The deployable apps and the entry file each runs. */
export const APPS = {
  'all-in-one': 'dist/apps/all-in-one/src/main.js',
  'api-gateway': 'dist/apps/api-gateway/src/main.js',
  'ingest-gateway': 'dist/apps/ingest-gateway/src/main.js',
  'query-store': 'dist/apps/query-store/src/main.js',
  'siem-forwarder': 'dist/apps/siem-forwarder/src/main.js',
} as const;

/** Offline commands the image runs by name like an app (docker/entrypoint.sh), e.g. with the query-stores stopped. */
export const TOOLS = {
  'reconcile-rollup': 'dist/apps/query-store/src/reconcile-rollup.js',
} as const;
