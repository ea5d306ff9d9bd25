import { ServerOptions } from 'node:http';
import { Server as TlsServer } from 'node:tls';
import { INestApplication, Type, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'pino';
import { AppConfig, HttpTlsConfig, isLoopback, PinoNestLogger, VERSION } from '@app/common';
import { ApiKeyService } from '@app/auth';
import { DataSource } from 'typeorm';
import { ApiDependencies, ApiModule } from './api.module';
import { registerBodyParsers } from './http/body-parsers';
import { Authenticator } from './http/authenticator';
import { guardDocs } from './http/docs-guard';
import { ErrorFilter } from './http/error.filter';
import { setupOpenApi } from './http/openapi';
import { Metrics, VALIDATION_OPTIONS, validationFailed } from '@app/runtime';
import { PortProvider } from './api.module';
import { clientErrorHandler, frameworkErrors } from './http/server-errors';
import { mountConsole } from '@app/console';
import { loadServerTls, ServerTlsReloader } from './http/server-tls';

export interface HttpAppOptions {
  host: string;
  port: number;
  bodyLimitBytes: number;
  /** Believe X-Forwarded-For from these proxies (true: any); off by default so clients cannot forge ip_address. */
  trustProxy?: boolean | string[];
  /** The whole request (headers and body) must arrive within this; 0 turns it off. Responses are not bound. */
  requestTimeoutMs?: number;
  /** The request's headers must arrive within this. */
  headersTimeoutMs?: number;
  logger: Logger;
  title: string;
  /** Serve HTTPS with these files, re-read when they change; plain HTTP without. */
  tls?: HttpTlsConfig;
}

export const HTTP_TIMEOUT_DEFAULTS = { requestMs: 30_000, headersMs: 10_000 } as const;

/**
 * Node's own deadlines for receiving a request, which Fastify passes to http.createServer. They bound the
 * request only: an SSE response may last for hours. Node checks them every connectionsCheckingInterval
 * (30 s by default, which is why slow headers got their 408 only at 88 s), so the check runs every second.
 */
function requestTimeouts(requestMs: number, headersMs: number): { requestTimeout: number; http: ServerOptions } {
  // Node refuses a headers deadline longer than the request's.
  const headersTimeout = requestMs > 0 ? Math.min(headersMs, requestMs) : headersMs;
  return {
    requestTimeout: requestMs,
    http: { requestTimeout: requestMs, headersTimeout, connectionsCheckingInterval: Math.min(1000, Math.max(100, headersTimeout / 2)) },
  };
}

/** Builds and starts the public HTTP API on Fastify: parsers, validation, errors, auth, OpenAPI at /docs. */
export async function startHttpApi(deps: ApiDependencies, options: HttpAppOptions): Promise<NestFastifyApplication> {
  // A bad certificate or key stops the start here, before anything listens.
  const tls = options.tls ? loadServerTls(options.tls) : undefined;
  const timeouts = requestTimeouts(
    options.requestTimeoutMs ?? HTTP_TIMEOUT_DEFAULTS.requestMs,
    options.headersTimeoutMs ?? HTTP_TIMEOUT_DEFAULTS.headersMs,
  );
  const adapter = new FastifyAdapter({
    bodyLimit: options.bodyLimitBytes,
    trustProxy: options.trustProxy ?? false,
    // Errors raised before a route runs (header overflow, bad URLs, long path parameters) in the same envelope.
    clientErrorHandler: clientErrorHandler(options.logger),
    frameworkErrors,
    requestTimeout: timeouts.requestTimeout,
    // https.createServer takes the same deadlines as http.createServer.
    ...(tls ? { https: { ...timeouts.http, ...tls.options } } : { http: timeouts.http }),
  });
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forRoot(deps), adapter, {
    logger: new PinoNestLogger(options.logger),
    abortOnError: false,
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  registerBodyParsers(fastify, options.bodyLimitBytes);
  instrument(fastify, deps.metrics);
  app.useGlobalFilters(new ErrorFilter());
  app.useGlobalPipes(new ValidationPipe({ ...VALIDATION_OPTIONS, transform: true, exceptionFactory: validationFailed }));
  guardDocs(fastify, app.get(Authenticator));
  setupOpenApi(app, options.title);
  mountConsole(fastify);
  app.enableShutdownHooks();
  if (tls && options.tls) {
    const reloader = new ServerTlsReloader(app.getHttpServer() as unknown as TlsServer, options.tls, tls, options.logger, deps.metrics);
    fastify.addHook('onClose', (_instance, done) => {
      reloader.stop();
      done();
    });
    reloader.start();
  }
  await app.listen(options.port, options.host);
  return app;
}

function instrument(
  fastify: ReturnType<NestFastifyApplication['getHttpAdapter']>['getInstance'] extends () => infer F ? F : never,
  metrics: Metrics,
): void {
  fastify.addHook('onResponse', (req, reply, done) => {
    metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions?.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
}

export type { INestApplication };

export interface HttpApiParts {
  mode: 'embedded' | 'distributed';
  ports: PortProvider[];
  controllers: Type[];
  apiKeys: ApiKeyService;
  metrics: Metrics;
  readiness: ApiDependencies['readiness'];
  /** What GET /audit/config shows beyond the settings every mode shares. */
  describe: Record<string, unknown>;
}

/** The public API as both the embedded app and the API gateway run it, wired from the validated config. */
export async function serveHttpApi(config: AppConfig, logger: Logger, parts: HttpApiParts): Promise<NestFastifyApplication> {
  const anonymousAllowed = isLoopback(config.http.host) && config.auth.allowAnonymousOnLoopback;
  return startHttpApi(
    {
      ports: parts.ports,
      controllers: parts.controllers,
      apiKeys: parts.apiKeys,
      metrics: parts.metrics,
      readiness: parts.readiness,
      publicConfig: {
        mode: parts.mode,
        version: VERSION,
        ...parts.describe,
        batching: {
          max_events: config.batching.maxEvents,
          interval_ms: config.batching.intervalMs,
          produce_linger_ms: config.batching.produceLingerMs,
        },
        authentication: { anonymous_on_loopback: anonymousAllowed, api_keys_configured: await parts.apiKeys.hasAnyKey() },
        rate_limit_per_minute: config.rateLimitPerMinute,
        self_audit: { reads: config.selfAuditReads, denials: true },
        max_body_bytes: config.http.bodyLimitBytes,
        http_timeouts_ms: { request: config.http.requestTimeoutMs, headers: config.http.headersTimeoutMs },
        tls: { https: config.http.tls !== undefined, reload_interval_ms: config.http.tls?.reloadIntervalMs },
        streams: {
          max_per_key: config.streams.maxPerKey,
          max_total: config.streams.maxTotal,
          stall_timeout_ms: config.streams.stallTimeoutMs,
        },
        queries: {
          concurrency: config.queries.concurrency,
          queue: config.queries.queue,
          read_after_write_ms: config.queries.readAfterWriteMs,
        },
      },
      auth: {
        anonymousAllowed,
        defaultTenant: config.defaultTenant,
        rateLimitPerMinute: config.rateLimitPerMinute,
        authFailuresPerMinute: config.authFailuresPerMinute,
      },
      stream: { pollMs: 250, heartbeatMs: 15_000, ...config.streams },
      queries: config.queries,
      selfAuditReads: config.selfAuditReads,
    },
    {
      host: config.http.host,
      port: config.http.port,
      bodyLimitBytes: config.http.bodyLimitBytes,
      trustProxy: config.http.trustProxy,
      requestTimeoutMs: config.http.requestTimeoutMs,
      headersTimeoutMs: config.http.headersTimeoutMs,
      tls: config.http.tls,
      logger,
      title: 'HOMEPOT Audit',
    },
  );
}

/**
 * API keys as the public API needs them: the bootstrap key in place, and a refusal to serve anything but
 * loopback while no key exists.
 */
export async function prepareApiKeys(ds: DataSource, config: AppConfig): Promise<ApiKeyService> {
  const apiKeys = new ApiKeyService(ds);
  if (config.auth.bootstrapKey) await apiKeys.ensureBootstrapKey(config.auth.bootstrapKey, config.defaultTenant);
  if (!isLoopback(config.http.host) && !(await apiKeys.hasAnyKey())) {
    throw new Error(
      `refusing to listen on ${config.http.host} without API keys: set AUDIT_BOOTSTRAP_API_KEY (e.g. openssl rand -hex 24) or listen on 127.0.0.1`,
    );
  }
  return apiKeys;
}
