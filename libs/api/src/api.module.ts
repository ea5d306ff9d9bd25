import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from '@app/auth';
import { INGEST_PORT, IngestPort } from '@app/ingest';
import { Metrics, ReadinessCheck } from '@app/runtime';
import { ApiKeysController } from './controllers/api-keys.controller';
import { CatalogueController } from './controllers/catalogue.controller';
import { EventsController } from './controllers/events.controller';
import { HealthController, READINESS_CHECKS } from './controllers/health.controller';
import { OpsController, PUBLIC_CONFIG, PublicConfig } from './controllers/ops.controller';
import { StatisticsController } from './controllers/statistics.controller';
import { STREAM_SETTINGS, StreamController, StreamSettings } from './controllers/stream.controller';
import { AuthGuard } from './http/auth.guard';
import { AUTH_SETTINGS, Authenticator, AuthSettings } from './http/authenticator';
import { QUERY_DEFAULTS, QUERY_SETTINGS, QueryGate, QuerySettings } from './http/query-gate';
import { SelfAuditService } from './self-audit.service';

/** A port's implementation as the HTTP controllers inject it: in-process, or a TCP client of its service. */
export interface PortProvider {
  token: symbol;
  implementation: unknown;
}

export interface ApiDependencies {
  /** Every port the controllers use, the ingest and query ports among them. */
  ports: PortProvider[];
  /** The capabilities' own HTTP controllers, mounted beside the core API's. */
  controllers: Type[];
  apiKeys: ApiKeyService;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  publicConfig: PublicConfig;
  auth: AuthSettings;
  stream: StreamSettings;
  /** The query gate and the read-after-write bound; QUERY_DEFAULTS when absent. */
  queries?: QuerySettings;
  selfAuditReads: boolean;
}

export function portOf<P>(deps: Pick<ApiDependencies, 'ports'>, token: symbol): P {
  const found = deps.ports.find((p) => p.token === token);
  if (!found) throw new Error(`no implementation of the port ${token.description ?? String(token)}`);
  return found.implementation as P;
}

/**
 * The public HTTP API: the core controllers (events, stream, statistics, catalogue, operations, API keys,
 * probes) and the capabilities' controllers, on ports given by the embedded app or the API gateway.
 */
@Module({})
export class ApiModule {
  static forRoot(deps: ApiDependencies): DynamicModule {
    return {
      module: ApiModule,
      controllers: [
        EventsController,
        StreamController,
        StatisticsController,
        CatalogueController,
        OpsController,
        ApiKeysController,
        HealthController,
        ...deps.controllers,
      ],
      providers: [
        ...deps.ports.map((p) => ({ provide: p.token, useValue: p.implementation })),
        { provide: ApiKeyService, useValue: deps.apiKeys },
        { provide: Metrics, useValue: deps.metrics },
        { provide: READINESS_CHECKS, useValue: deps.readiness },
        { provide: PUBLIC_CONFIG, useValue: deps.publicConfig },
        { provide: AUTH_SETTINGS, useValue: deps.auth },
        { provide: STREAM_SETTINGS, useValue: deps.stream },
        { provide: QUERY_SETTINGS, useValue: deps.queries ?? QUERY_DEFAULTS },
        {
          provide: QueryGate,
          useValue: new QueryGate(deps.queries ?? QUERY_DEFAULTS, (outcome) => deps.metrics.queryGate.inc({ outcome })),
        },
        { provide: SelfAuditService, useValue: new SelfAuditService(portOf<IngestPort>(deps, INGEST_PORT), deps.selfAuditReads) },
        Authenticator,
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
    };
  }
}
