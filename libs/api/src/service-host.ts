import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { DynamicModule, INestMicroservice, Module, Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { Logger } from 'pino';
import { AppConfig, ConfigError, createLogger, HEALTH_PATHS, loadConfig, PinoNestLogger } from '@app/common';
import { ErrorCode } from '@app/contracts';
import { ReadinessCheck, runChecks } from './controllers/health.controller';
import { Metrics } from './metrics';
import { RpcErrorFilter } from './rpc/rpc-errors';

/** What the bootstrap shared by the distributed apps needs from each: a start function returning a closer. */
export interface RunningApp {
  close(): Promise<void>;
  /** Logged once the app is up: addresses and modes, never secrets. */
  describe: Record<string, unknown>;
}

export interface AppContext {
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

  async closeAll(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop();
      if (!step) break;
      try {
        await step.run();
      } catch (e) {
        this.logger.warn({ err: e, step: step.name }, 'error while shutting down');
      }
    }
  }
}

/**
 * Entry point of a distributed app: validated config (a bad variable exits 2 naming it), a pino logger,
 * graceful shutdown on SIGTERM/SIGINT, and exit 1 on a start-up failure or a fatal condition.
 */
export function runService(name: string, start: (config: AppConfig, logger: Logger, context: AppContext) => Promise<RunningApp>): void {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel, name);
  let app: RunningApp | undefined;
  let stopping = false;
  const stop = (reason: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const closed = app ? app.close() : Promise.resolve();
    closed
      .then(() => process.exit(code))
      .catch((e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      });
  };
  const context: AppContext = {
    fail: (reason, error) => {
      logger.fatal({ err: error }, reason);
      stop(reason, 1);
    },
  };
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  start(config, logger, context).then(
    (running) => {
      app = running;
      logger.info(running.describe, `${name} is running`);
      if (stopping) void running.close();
    },
    (e: unknown) => {
      const configError = e instanceof ConfigError;
      logger.fatal({ err: e }, `${name} could not start`);
      process.stderr.write(`${name} could not start: ${(e as Error).message ?? String(e)}\n`);
      process.exit(configError ? 2 : 1);
    },
  );
}

@Module({})
class RpcHostModule {
  static forRoot(controllers: Type[], providers: Provider[]): DynamicModule {
    return { module: RpcHostModule, controllers, providers };
  }
}

export interface RpcServerOptions {
  service: string;
  host: string;
  port: number;
  logger: Logger;
  controllers: Type[];
  providers: Provider[];
}

/** A Nest microservice on the TCP transport whose errors reach the caller intact (see rpc-errors.ts). */
export async function startRpcServer(options: RpcServerOptions): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(RpcHostModule.forRoot(options.controllers, options.providers), {
    transport: Transport.TCP,
    options: { host: options.host, port: options.port },
    logger: new PinoNestLogger(options.logger),
    abortOnError: false,
  });
  app.useGlobalFilters(new RpcErrorFilter(options.service));
  await app.listen();
  return app;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * Probes and metrics of a service without a public API (ingest-gateway, query-store), on HEALTH_PORT:
 * the same paths and bodies as the API gateway's HealthController.
 */
export async function startHealthServer(options: {
  host: string;
  port: number;
  checks: ReadinessCheck[];
  metrics: Metrics;
}): Promise<HealthServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === HEALTH_PATHS.live) return send(res, 200, JSON.stringify({ status: 'ok' }));
    if (req.method === 'GET' && path === HEALTH_PATHS.ready) {
      const r = await runChecks(options.checks);
      return send(res, r.ok ? 200 : 503, JSON.stringify({ status: r.ok ? 'ok' : 'unavailable', checks: r.checks }));
    }
    if (req.method === 'GET' && path === HEALTH_PATHS.metrics)
      return send(res, 200, await options.metrics.registry.metrics(), 'text/plain; version=0.0.4');
    send(res, 404, JSON.stringify({ error: { code: ErrorCode.NotFound, message: `no route ${req.method ?? ''} ${path}`, details: [] } }));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) =>
      send(res, 500, JSON.stringify({ error: { code: ErrorCode.Internal, message: (e as Error).message, details: [] } })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface ServiceEndpointsOptions extends RpcServerOptions {
  health: { host: string; port: number; checks: ReadinessCheck[]; metrics: Metrics };
}

/** The two listeners of a service behind the gateway: its TCP transport and its probes; both closed by `closers`. */
export async function startServiceEndpoints(options: ServiceEndpointsOptions, closers: Closers): Promise<{ healthPort: number }> {
  const rpc = await startRpcServer(options);
  closers.add('rpc', () => rpc.close());
  const health = await startHealthServer(options.health);
  closers.add('health', () => health.close());
  return { healthPort: health.port };
}
