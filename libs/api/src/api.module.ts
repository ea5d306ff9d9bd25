import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyService } from '@app/auth';
import { ApiKeysController } from './controllers/api-keys.controller';
import { CatalogueController } from './controllers/catalogue.controller';
import { EventsController } from './controllers/events.controller';
import { HealthController, READINESS_CHECKS, ReadinessCheck } from './controllers/health.controller';
import { OpsController, PUBLIC_CONFIG, PublicConfig } from './controllers/ops.controller';
import { StatisticsController } from './controllers/statistics.controller';
import { STREAM_SETTINGS, StreamController, StreamSettings } from './controllers/stream.controller';
import { AUTH_SETTINGS, AuthGuard, AuthSettings } from './http/auth.guard';
import { QUERY_DEFAULTS, QUERY_SETTINGS, QueryGate, QuerySettings } from './http/query-gate';
import { Metrics } from './metrics';
import { INGEST_PORT, IngestPort, QUERY_PORT, QueryPort } from './ports';
import { SelfAuditService } from './self-audit.service';

export interface ApiDependencies {
  ingest: IngestPort;
  query: QueryPort;
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

/** The public HTTP API; the embedded app and the API gateway compose it with their own port adapters. */
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
      ],
      providers: [
        { provide: INGEST_PORT, useValue: deps.ingest },
        { provide: QUERY_PORT, useValue: deps.query },
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
        { provide: SelfAuditService, useValue: new SelfAuditService(deps.ingest, deps.selfAuditReads) },
        { provide: APP_GUARD, useClass: AuthGuard },
      ],
    };
  }
}
