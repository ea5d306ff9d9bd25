import * as path from 'node:path';
import { mkdirSync } from 'node:fs';
import { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { EventBus, FileLogBus, KafkaBus } from '@app/event-bus';
import { createDataSource, pingDataSource } from '@app/persistence';
import { ConsumerHost, ConsumerStoppingError } from './consumer/consumer-host';
import { ReadinessCheck } from './health';
import { AppContext, requireKafka, requirePostgres } from './lifecycle';
import { Metrics } from './metrics';
import { PortDefinition, tcpClient } from './rpc/port';
import { ConfigError, ConfigSection } from '@app/common';
import { CapabilityOffError } from '@app/contracts';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type EntityClass = Function;
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type MigrationClass = Function;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPort = PortDefinition<any>;

export type Mode = 'embedded' | 'distributed';

/**
 * One capability (query store, ingest, alerting, retention, ...): what it stores, what it serves, how it
 * starts. The all-in-one app runs every capability in one process; a distributed app names the ones it runs,
 * and the API gateway mounts their HTTP controllers with TCP clients of their ports. Adding a capability is
 * one lib exporting one of these and a line in each app that runs it.
 */
export interface Capability {
  name: string;
  /** Every deployment needs it (ingest, query): AUDIT_CAPABILITIES_OFF may not name it. */
  core?: boolean;
  /** Its configuration-store tables (TypeORM entities) and their numbered migrations. */
  entities?: EntityClass[];
  migrations?: MigrationClass[];
  /** The ports it serves (each knows its service's address in the distributed mode). */
  serves?: AnyPort[];
  /** HTTP controllers the API mounts (they inject ports by their tokens); shared HTTP concerns are libs/api's. */
  controllers?: Array<new (...args: never[]) => unknown>;
  /** Its own settings: parsed (and refused, naming the variable) at start-up, only where it runs. */
  config?: Array<ConfigSection<unknown>>;
  /** Whether its service side needs the event bus or the configuration store (the host opens each once). */
  needs?: { bus?: boolean; configStore?: boolean };
  /** The service side: builds the implementations of its ports. */
  start?(context: CapabilityContext): Promise<CapabilityInstance>;
}

export interface PortBinding<P = unknown> {
  port: PortDefinition<P>;
  implementation: P;
}

export interface CapabilityInstance {
  bindings?: PortBinding[];
  /** Its own stores: they decide this process's readiness. */
  readiness?: ReadinessCheck[];
  /** What GET /audit/config and the start-up log show of it; never secrets. */
  describe?: Record<string, unknown>;
  /** Runs once every capability started and the process answers requests (e.g. joining a consumer group). */
  afterStart?(): Promise<void>;
  /** On SIGTERM, before the closers: finish the work in hand. */
  drain?(): Promise<void>;
}

/** What the host gives a starting capability. Resources it opens itself go in `closers`. */
export interface CapabilityContext extends AppContext {
  mode: Mode;
  metrics: Metrics;
  /** The process's event bus: the embedded log, or Kafka (connected, topics checked). */
  bus(): EventBus;
  /**
   * The process's consumer host: a capability declares its group in `start` and starts it (`start(group)`)
   * once its store is ready; the host stops every group first at shutdown.
   */
  consumers(): ConsumerHost;
  /** The process's configuration store, with the tables of every capability it runs. */
  configStore(): DataSource;
  /** A section of the capability's settings, parsed once at start-up. */
  settings<T>(section: ConfigSection<T>): T;
  /**
   * Another capability's port, for a capability that calls it (e.g. to write audit events through ingest):
   * the implementation when it runs in this process (the embedded app: always), else a TCP client of its
   * service, closed at shutdown.
   */
  port<P>(port: PortDefinition<P>): P;
}

export interface StartedCapabilities {
  bindings: PortBinding[];
  readiness: ReadinessCheck[];
  describe: Record<string, unknown>;
  bus?: EventBus;
  configStore?: DataSource;
  afterStart(): Promise<void>;
  drain(): Promise<void>;
}

/** A failed batch as both buses report it; a batch handed back at shutdown is not a failure. */
function logHandlerError(logger: Logger, group: string, error: unknown, attempt: number, then: string, delayMs?: number): void {
  if (error instanceof ConsumerStoppingError) {
    logger.debug({ group }, 'batch handed back: the process is stopping; it comes again after the restart');
    return;
  }
  logger.warn(
    { group, attempt, ...(delayMs !== undefined && { retry_in_ms: delayMs }), err: (error as Error).message },
    `consumer batch failed; ${then}`,
  );
}

function openBus(context: AppContext, mode: Mode, app: string): EventBus {
  const { config, logger } = context;
  if (mode === 'embedded') {
    return new FileLogBus({
      dir: path.join(config.dataDir, 'log'),
      fsync: config.kafka.kind === 'embedded' ? config.kafka.fsync : true,
      segmentBytes: 128 * 1024 * 1024,
      maxBatchRecords: config.batching.maxEvents,
      batchIntervalMs: config.batching.intervalMs,
      hotWindowMs: config.kafka.hotWindowMs,
      retryBackoff: config.consumerRetry,
      logger,
      onHandlerError: (group, error, attempt) => logHandlerError(logger, group, error, attempt, 'retrying after back-off'),
    });
  }
  return new KafkaBus({
    ...requireKafka(config, app),
    maxBatchRecords: config.batching.maxEvents,
    retryBackoff: config.consumerRetry,
    logger,
    onHandlerError: (group, error, attempt, delayMs) =>
      logHandlerError(logger, group, error, attempt, 'the partition is paused and retried after back-off', delayMs),
    onConsumerFatal: (group, error) => context.fail(`the Kafka consumer of ${group} stopped for good`, error),
  });
}

/**
 * Starts the service side of the named capabilities in this process: one configuration store holding all
 * their tables (plus `extra`, e.g. the gateway's API keys), one event bus if any needs it, then each
 * capability in order. Everything opened is registered in `context.closers`.
 */
export async function startCapabilities(
  context: AppContext,
  capabilities: Capability[],
  options: { mode: Mode; app: string; metrics: Metrics; extraEntities?: EntityClass[]; extraMigrations?: MigrationClass[] },
): Promise<StartedCapabilities> {
  const { config, closers } = context;
  const { mode } = options;
  // Every capability's settings first: a bad variable stops the process before anything is opened.
  const sections = new Map<ConfigSection<unknown>, unknown>();
  for (const section of capabilities.flatMap((c) => c.config ?? [])) sections.set(section, section.parse(context.env));
  const entities = [...(options.extraEntities ?? []), ...capabilities.flatMap((c) => c.entities ?? [])];
  const migrations = [...(options.extraMigrations ?? []), ...capabilities.flatMap((c) => c.migrations ?? [])];
  const readiness: ReadinessCheck[] = [];
  let ds: DataSource | undefined;
  if (options.extraEntities !== undefined || capabilities.some((c) => c.needs?.configStore)) {
    if (mode === 'embedded') mkdirSync(config.dataDir, { recursive: true });
    const target = mode === 'embedded' ? config.postgres : requirePostgres(config, options.app);
    ds = await createDataSource({
      target,
      entities,
      migrations,
      // Crash-only: a process without its configuration store cannot recover in place, so it stops (exit 1)
      // and its supervisor (Kubernetes, systemd) starts it again; nothing acknowledged is lost, the log holds it.
      onLost: (e) => context.fail('the embedded configuration store (PGlite) stopped; the process exits to be restarted', e),
    });
    const opened = ds;
    closers.add('config-store', () => opened.destroy());
    readiness.push({ name: 'config_store', check: async () => ({ ok: await pingDataSource(opened) }) });
  }
  let bus: EventBus | undefined;
  let consumers: ConsumerHost | undefined;
  if (capabilities.some((c) => c.needs?.bus)) {
    const opened = openBus(context, mode, options.app);
    bus = opened;
    closers.add('event-log', () => opened.close());
    if (opened instanceof KafkaBus) {
      await opened.connect();
      await opened.ensureTopics();
    }
    consumers = new ConsumerHost({
      bus: opened,
      metrics: options.metrics,
      logger: context.logger,
      // The embedded log is appended only by this process's ingest; Kafka takes any producer's records.
      trust: mode === 'embedded' ? 'gateway-records' : 'none',
      defaultTenant: config.defaultTenant,
    });
  }
  const bindings: PortBinding[] = [];
  const describe: Record<string, unknown> = {};
  const afterStart: Array<() => Promise<void>> = [];
  const drains: Array<() => Promise<void>> = [];
  const capabilityContext: CapabilityContext = {
    ...context,
    get stopping() {
      return context.stopping;
    },
    mode,
    metrics: options.metrics,
    bus: () => {
      if (!bus) throw new Error('this capability did not declare needs.bus');
      return bus;
    },
    consumers: () => {
      if (!consumers) throw new Error('this capability did not declare needs.bus');
      return consumers;
    },
    configStore: () => {
      if (!ds) throw new Error('this capability did not declare needs.configStore');
      return ds;
    },
    settings: <T>(section: ConfigSection<T>) => {
      if (!sections.has(section as ConfigSection<unknown>)) sections.set(section as ConfigSection<unknown>, section.parse(context.env));
      return sections.get(section as ConfigSection<unknown>) as T;
    },
    port: <P>(port: PortDefinition<P>): P => {
      const local = bindings.find((b) => b.port === (port as AnyPort));
      if (local) return local.implementation as P;
      const client = tcpClient(port, port.address.parse(context.env));
      closers.add(`${port.service}-client`, () => client.close());
      return client;
    },
  };
  for (const capability of capabilities) {
    if (context.stopping) break;
    const instance = await capability.start?.(capabilityContext);
    if (!instance) continue;
    bindings.push(...(instance.bindings ?? []));
    readiness.push(...(instance.readiness ?? []));
    if (instance.describe) describe[capability.name] = instance.describe;
    if (instance.afterStart) afterStart.push(() => (instance.afterStart as () => Promise<void>)());
    if (instance.drain) drains.push(() => (instance.drain as () => Promise<void>)());
  }
  return {
    bindings,
    readiness,
    describe,
    bus,
    configStore: ds,
    afterStart: async () => {
      for (const run of afterStart) if (!context.stopping) await run();
      // Registered last, so it runs first at shutdown: the batches in hand finish and commit before any
      // capability closes the store they write to.
      const host = consumers;
      if (host) closers.add('consumers', () => host.stop());
    },
    drain: async () => {
      for (const run of drains) await run();
    },
  };
}

/**
 * Splits the capabilities an app composes by AUDIT_CAPABILITIES_OFF: a name no capability has, or a core
 * one, stops the process naming the variable.
 */
export function selectCapabilities(all: Capability[], off: string[]): { on: Capability[]; off: Capability[] } {
  for (const name of off) {
    const c = all.find((x) => x.name === name);
    if (!c) {
      throw new ConfigError('AUDIT_CAPABILITIES_OFF', `'${name}' is not a capability of this app (${all.map((x) => x.name).join(', ')})`);
    }
    if (c.core) throw new ConfigError('AUDIT_CAPABILITIES_OFF', `'${name}' cannot be turned off: every deployment needs it`);
  }
  return { on: all.filter((c) => !off.includes(c.name)), off: all.filter((c) => off.includes(c.name)) };
}

/**
 * What a turned-off capability's ports are bound to, so its HTTP controllers stay mounted and every call
 * answers 404 `capability_off` naming it (rather than a bare 404 that looks like a typo in the path).
 */
export function offPort<P>(port: PortDefinition<P>, capability: string): P {
  const out: Record<string, () => Promise<never>> = {};
  for (const method of Object.keys(port.methods)) out[method] = () => Promise.reject(new CapabilityOffError(capability));
  return out as P;
}
