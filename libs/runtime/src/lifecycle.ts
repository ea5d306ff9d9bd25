import { Logger } from 'pino';
import { AppConfig, ConfigError, createLogger, loadConfig } from '@app/common';

/** What a started app hands back to `runService`. */
export interface RunningApp {
  /** Logged once the app is up: addresses and modes, never secrets. */
  describe: Record<string, unknown>;
  /**
   * Called first on SIGTERM, before the closers: stop taking new work and finish what is in hand (answer the
   * requests whose events are being published). Optional.
   */
  drain?(): Promise<void>;
}

export interface AppContext {
  config: AppConfig;
  /** The environment `config` was read from: capabilities parse their own sections of it (ConfigSection). */
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /** Shutdown steps, run in reverse order of registration after `drain`. */
  closers: Closers;
  /** True once shutdown began, also during start-up: a long start checks it between steps. */
  readonly stopping: boolean;
  /** Stops the app and exits non-zero, so the orchestrator restarts it (e.g. a consumer that gave up). */
  fail(reason: string, error?: unknown): void;
}

export type KafkaSettings = Extract<AppConfig['kafka'], { kind: 'kafka' }>;
export type PgSettings = Extract<AppConfig['postgres'], { kind: 'pg' }>;

export function requireKafka(config: AppConfig, app: string): KafkaSettings {
  if (config.kafka.kind !== 'kafka')
    throw new ConfigError('KAFKA_BROKERS', `is required by the ${app} (a host:port list of Kafka brokers)`);
  return config.kafka;
}

/** Several replicas share the configuration store, so the distributed apps never fall back to PGlite. */
export function requirePostgres(config: AppConfig, app: string): PgSettings {
  if (config.postgres.kind !== 'pg')
    throw new ConfigError('DATABASE_URL', `is required by the ${app} (postgres://user:password@host:5432/db)`);
  return config.postgres;
}

/** Shutdown steps, run in reverse order of registration; one failing step does not skip the others. */
export class Closers {
  private readonly steps: Array<{ name: string; run: () => unknown }> = [];

  constructor(private readonly logger: Logger) {}

  add(name: string, run: () => unknown): void {
    this.steps.push({ name, run });
  }

  /** `stepMs` bounds each step: a client stuck on an unreachable server must not hold the ones after it. */
  async closeAll(stepMs = 8000): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop();
      if (!step) break;
      let timer: NodeJS.Timeout | undefined;
      try {
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), stepMs);
        });
        const outcome = await Promise.race([Promise.resolve(step.run()), timedOut]);
        if (outcome === 'timeout') this.logger.warn({ step: step.name, after_ms: stepMs }, 'a shutdown step did not finish; going on');
      } catch (e) {
        this.logger.warn({ err: e, step: step.name }, 'error while shutting down');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

/** A stuck close must not keep a pod in Terminating until SIGKILL without a word in its log. */
const SHUTDOWN_GRACE_MS = 25_000;

/**
 * Entry point of every app: validated config (a bad variable exits 2 naming it), a pino logger, graceful
 * shutdown on SIGTERM/SIGINT (drain, then the closers in reverse order), and exit 1 on a start-up failure or a
 * fatal condition. A signal that arrives during start-up is honoured: start is awaited (it can check
 * `context.stopping`), then whatever it opened is closed, and the process exits 0.
 */
export function runService(name: string, start: (context: AppContext) => Promise<RunningApp>, env: NodeJS.ProcessEnv = process.env): void {
  let config: AppConfig;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel, name);
  const closers = new Closers(logger);
  let app: RunningApp | undefined;
  let starting = true;
  let stopping = false;
  let exitCode = 0;
  const finish = async (): Promise<void> => {
    const timer = setTimeout(() => {
      logger.error({ grace_ms: SHUTDOWN_GRACE_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    timer.unref();
    try {
      if (app?.drain) await app.drain();
    } catch (e) {
      logger.warn({ err: e }, 'error while draining');
    }
    await closers.closeAll();
    process.exit(exitCode);
  };
  const stop = (reason: string, code: number): void => {
    // A fatal condition during a shutdown already under way still makes the exit a failure.
    if (stopping) {
      if (code !== 0) exitCode = code;
      return;
    }
    stopping = true;
    exitCode = code;
    logger.info({ reason, during_start: starting }, 'shutting down');
    // During start-up, `start` settles first (below), then the same path runs.
    if (!starting) void finish();
  };
  const context: AppContext = {
    config,
    env,
    logger,
    closers,
    get stopping() {
      return stopping;
    },
    fail: (reason, error) => {
      logger.fatal({ err: error }, reason);
      stop(reason, 1);
    },
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  start(context).then(
    (running) => {
      app = running;
      starting = false;
      if (stopping) return void finish();
      logger.info(running.describe, `${name} is running`);
    },
    (e: unknown) => {
      starting = false;
      void closers.closeAll().finally(() => {
        if (stopping && exitCode === 0) process.exit(0);
        const configError = e instanceof ConfigError;
        logger.fatal({ err: e }, `${name} could not start`);
        process.stderr.write(`${name} could not start: ${(e as Error).message ?? String(e)}\n`);
        process.exit(configError ? 2 : 1);
      });
    },
  );
}
