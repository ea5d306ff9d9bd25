import { accessSync, constants, readFileSync } from 'node:fs';
import { ConfigError } from './config-error';
import { env as readers } from './config-section';

type Env = Record<string, string | undefined>;

/**
 * Encryption in transit: the HTTPS listener and TLS (plus SASL for Kafka) towards Kafka, Postgres and
 * ClickHouse. The config keeps file paths, never their contents: the HTTPS certificate is re-read when it
 * changes, and nothing secret ends up in an object someone might log.
 */
export interface HttpTlsConfig {
  certFile: string;
  keyFile: string;
  /** Intermediate or extra CA certificates sent with the chain. */
  caFile?: string;
  passphrase?: string;
  /** How often the files are compared with what is served; 0 turns reloading off. */
  reloadIntervalMs: number;
}

export interface TlsClientFiles {
  /** Trust these CAs instead of the system's. */
  caFile?: string;
  /** A client certificate and key, for servers that ask for one (mutual TLS). */
  certFile?: string;
  keyFile?: string;
}

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export interface KafkaSecurityConfig {
  ssl?: TlsClientFiles & { keyPassphrase?: string };
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
}

/** libpq's sslmode names: `require` encrypts without checking the server, `verify-ca` checks its CA, `verify-full` also its name. */
export const POSTGRES_SSL_MODES = ['require', 'verify-ca', 'verify-full'] as const;
export type PostgresSslMode = (typeof POSTGRES_SSL_MODES)[number];
export type PostgresSslConfig = TlsClientFiles & { mode: PostgresSslMode };

export type ClickHouseTlsConfig = TlsClientFiles;

export const TRANSPORT_TLS_ENV_VARS = [
  'AUDIT_TLS_CERT_FILE',
  'AUDIT_TLS_KEY_FILE',
  'AUDIT_TLS_CA_FILE',
  'AUDIT_TLS_KEY_PASSPHRASE',
  'AUDIT_TLS_RELOAD_INTERVAL_MS',
  'AUDIT_KAFKA_SSL',
  'AUDIT_KAFKA_SSL_CA_FILE',
  'AUDIT_KAFKA_SSL_CERT_FILE',
  'AUDIT_KAFKA_SSL_KEY_FILE',
  'AUDIT_KAFKA_SSL_KEY_PASSPHRASE',
  'AUDIT_KAFKA_SASL_MECHANISM',
  'AUDIT_KAFKA_SASL_USERNAME',
  'AUDIT_KAFKA_SASL_PASSWORD',
  'AUDIT_POSTGRES_SSL',
  'AUDIT_POSTGRES_SSL_MODE',
  'AUDIT_POSTGRES_SSL_CA_FILE',
  'AUDIT_POSTGRES_SSL_CERT_FILE',
  'AUDIT_POSTGRES_SSL_KEY_FILE',
  'AUDIT_CLICKHOUSE_TLS_CA_FILE',
  'AUDIT_CLICKHOUSE_TLS_CERT_FILE',
  'AUDIT_CLICKHOUSE_TLS_KEY_FILE',
] as const;

/** A path the process must be able to read at start-up; the error names the variable and the path, not the contents. */
function readableFile(env: Env, name: string): string | undefined {
  const file = readers.string(env, name);
  if (file === undefined) return undefined;
  try {
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw new ConfigError(name, `names '${file}', which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return file;
}

/** Reads a TLS file at connect time; a failure is a configuration error naming the variable. */
export function readTlsFile(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(variable, `names '${file}', which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function clientPair(env: Env, prefix: string): TlsClientFiles {
  const files = {
    caFile: readableFile(env, `${prefix}_CA_FILE`),
    certFile: readableFile(env, `${prefix}_CERT_FILE`),
    keyFile: readableFile(env, `${prefix}_KEY_FILE`),
  };
  if (files.certFile && !files.keyFile) throw new ConfigError(`${prefix}_KEY_FILE`, `is required with ${prefix}_CERT_FILE`);
  if (files.keyFile && !files.certFile) throw new ConfigError(`${prefix}_CERT_FILE`, `is required with ${prefix}_KEY_FILE`);
  return files;
}

const anySet = (env: Env, names: string[]): string | undefined => names.find((n) => readers.string(env, n) !== undefined);

export function parseHttpTls(env: Env): HttpTlsConfig | undefined {
  const certFile = readableFile(env, 'AUDIT_TLS_CERT_FILE');
  const keyFile = readableFile(env, 'AUDIT_TLS_KEY_FILE');
  if (!certFile && !keyFile) {
    const stray = anySet(env, ['AUDIT_TLS_CA_FILE', 'AUDIT_TLS_KEY_PASSPHRASE']);
    if (stray) throw new ConfigError(stray, 'is set but AUDIT_TLS_CERT_FILE and AUDIT_TLS_KEY_FILE are not');
    return undefined;
  }
  if (!certFile) throw new ConfigError('AUDIT_TLS_CERT_FILE', 'is required with AUDIT_TLS_KEY_FILE');
  if (!keyFile) throw new ConfigError('AUDIT_TLS_KEY_FILE', 'is required with AUDIT_TLS_CERT_FILE');
  return {
    certFile,
    keyFile,
    caFile: readableFile(env, 'AUDIT_TLS_CA_FILE'),
    passphrase: readers.string(env, 'AUDIT_TLS_KEY_PASSPHRASE'),
    reloadIntervalMs: readers.int(env, 'AUDIT_TLS_RELOAD_INTERVAL_MS', 10_000, 0, 86_400_000),
  };
}

export function parseKafkaSecurity(env: Env): KafkaSecurityConfig {
  const result: KafkaSecurityConfig = {};
  if (readers.bool(env, 'AUDIT_KAFKA_SSL', false)) {
    result.ssl = { ...clientPair(env, 'AUDIT_KAFKA_SSL'), keyPassphrase: readers.string(env, 'AUDIT_KAFKA_SSL_KEY_PASSPHRASE') };
  } else {
    const stray = anySet(env, [
      'AUDIT_KAFKA_SSL_CA_FILE',
      'AUDIT_KAFKA_SSL_CERT_FILE',
      'AUDIT_KAFKA_SSL_KEY_FILE',
      'AUDIT_KAFKA_SSL_KEY_PASSPHRASE',
    ]);
    if (stray) throw new ConfigError(stray, 'is set but AUDIT_KAFKA_SSL is off');
  }
  const mechanism = readers.string(env, 'AUDIT_KAFKA_SASL_MECHANISM')?.toLowerCase();
  if (mechanism === undefined) {
    const stray = anySet(env, ['AUDIT_KAFKA_SASL_USERNAME', 'AUDIT_KAFKA_SASL_PASSWORD']);
    if (stray) throw new ConfigError(stray, 'is set but AUDIT_KAFKA_SASL_MECHANISM is not');
    return result;
  }
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new ConfigError('AUDIT_KAFKA_SASL_MECHANISM', `must be one of ${KAFKA_SASL_MECHANISMS.join(', ')}; got '${mechanism}'`);
  }
  const username = readers.string(env, 'AUDIT_KAFKA_SASL_USERNAME');
  const password = readers.string(env, 'AUDIT_KAFKA_SASL_PASSWORD');
  if (!username) throw new ConfigError('AUDIT_KAFKA_SASL_USERNAME', 'is required with AUDIT_KAFKA_SASL_MECHANISM');
  if (!password) throw new ConfigError('AUDIT_KAFKA_SASL_PASSWORD', 'is required with AUDIT_KAFKA_SASL_MECHANISM');
  result.sasl = { mechanism: mechanism as KafkaSaslMechanism, username, password };
  return result;
}

const PG_URL_TLS_PARAMS = ['sslmode', 'ssl', 'sslcert', 'sslkey', 'sslrootcert'];

/** `databaseUrl`: DATABASE_URL, whose own ssl parameters would silently win over these in `pg`. */
export function parsePostgresSsl(env: Env, databaseUrl: string | undefined): PostgresSslConfig | undefined {
  const on = readers.bool(env, 'AUDIT_POSTGRES_SSL', false);
  const names = ['AUDIT_POSTGRES_SSL_MODE', 'AUDIT_POSTGRES_SSL_CA_FILE', 'AUDIT_POSTGRES_SSL_CERT_FILE', 'AUDIT_POSTGRES_SSL_KEY_FILE'];
  if (!on) {
    const stray = anySet(env, names);
    if (stray) throw new ConfigError(stray, 'is set but AUDIT_POSTGRES_SSL is off');
    return undefined;
  }
  if (!databaseUrl)
    throw new ConfigError('AUDIT_POSTGRES_SSL', 'needs DATABASE_URL (the embedded PGlite store has no connection to encrypt)');
  const inUrl = PG_URL_TLS_PARAMS.find((p) => new URL(databaseUrl).searchParams.has(p));
  if (inUrl)
    throw new ConfigError('DATABASE_URL', `must not carry '${inUrl}' when AUDIT_POSTGRES_SSL is on (it would override those settings)`);
  const mode = (readers.string(env, 'AUDIT_POSTGRES_SSL_MODE') ?? 'verify-full').toLowerCase();
  if (!(POSTGRES_SSL_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError('AUDIT_POSTGRES_SSL_MODE', `must be one of ${POSTGRES_SSL_MODES.join(', ')}; got '${mode}'`);
  }
  return { mode: mode as PostgresSslMode, ...clientPair(env, 'AUDIT_POSTGRES_SSL') };
}

export function parseClickHouseTls(env: Env, clickhouseUrl: string | undefined): ClickHouseTlsConfig | undefined {
  const files = clientPair(env, 'AUDIT_CLICKHOUSE_TLS');
  const set = anySet(env, ['AUDIT_CLICKHOUSE_TLS_CA_FILE', 'AUDIT_CLICKHOUSE_TLS_CERT_FILE']);
  if (!set) return undefined;
  if (!clickhouseUrl || new URL(clickhouseUrl).protocol !== 'https:') throw new ConfigError(set, 'needs an https: CLICKHOUSE_URL');
  if (files.certFile && !files.caFile) {
    // @clickhouse/client only takes a client certificate together with the CA that checks the server.
    throw new ConfigError('AUDIT_CLICKHOUSE_TLS_CA_FILE', 'is required with AUDIT_CLICKHOUSE_TLS_CERT_FILE');
  }
  return files;
}
