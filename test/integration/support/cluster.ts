import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { HEALTH_PATHS } from '@app/common';
import { freePortForTest } from '../../../libs/runtime/src/rpc/test-port';
import { AppName, AppProcess } from './app-process';
import { KAFKA_BROKERS, TEST_DATABASE_URL } from './environment';

/** The integrity service's key passphrase in every cluster (a test value: the key signs test checkpoints only). */
export const CLUSTER_INTEGRITY_KEY_PASSPHRASE = 'homepot-audit-integration-tests';

/** A free loopback port: the same helper the runtime's specs use. */
export const freePort = freePortForTest;

export interface ClusterOptions {
  /** Prefix of the temporary directory holding every app's data and log. */
  name: string;
  gateways?: number;
  /** Extra environment for the query-store, e.g. a smaller batch size. */
  queryStoreEnv?: Record<string, string>;
  /** Also run apps/reporting (exports and reports), behind the gateways. */
  reporting?: boolean;
  /** Extra environment for apps/reporting (e.g. its schedule clock); implies `reporting`. */
  reportingEnv?: Record<string, string>;
  /** Runs the alerting service too, with this extra environment (e.g. AUDIT_OUTBOUND_ALLOW, AUDIT_SMTP_URL). */
  alertingEnv?: Record<string, string>;
  /** Also run the siem-forwarder (SIEM integrations), with this extra environment. */
  siemEnv?: Record<string, string>;
  /** Also run the integrity service (apps/integrity), and point the gateways at it. */
  integrity?: boolean;
  /** Also run the retention service (apps/retention), with this extra environment (e.g. recipients, S3). */
  retentionEnv?: Record<string, string>;
  /** Extra environment for every app. */
  env?: Record<string, string>;
  /** Extra environment for the API gateways only, e.g. a tenant of the suite's own for its anonymous requests. */
  gatewayEnv?: Record<string, string>;
}

/**
 * The distributed deployment on this machine: ingest-gateway, query-store and one or more api-gateways, each
 * its own process on the real broker and Postgres, with a fresh AUDIT_DATA_DIR (the query-store's chdb
 * lives there) under one temporary directory.
 */
export class DistributedCluster {
  readonly ingest: AppProcess;
  readonly query: AppProcess;
  readonly reporting?: AppProcess;
  readonly alerting?: AppProcess;
  readonly integrity?: AppProcess;
  readonly siem?: AppProcess;
  readonly retention?: AppProcess;
  readonly gateways: AppProcess[] = [];
  private readonly gatewayPorts: number[] = [];

  private constructor(
    readonly dir: string,
    private readonly ports: {
      ingestRpc: number;
      ingestHealth: number;
      queryRpc: number;
      queryHealth: number;
      reportingRpc: number;
      reportingHealth: number;
      alertingRpc: number;
      alertingHealth: number;
      integrityRpc: number;
      integrityHealth: number;
      siemRpc: number;
      siemHealth: number;
      retentionRpc: number;
      retentionHealth: number;
    },
    gatewayPorts: number[],
    options: ClusterOptions,
  ) {
    // Only what the apps need: nothing from the test runner's own environment leaks into their config.
    const base: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir,
      TZ: 'UTC',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      KAFKA_BROKERS,
      KAFKA_CLIENT_ID: 'audit-int',
      INGEST_SERVICE_HOST: '127.0.0.1',
      INGEST_SERVICE_PORT: String(ports.ingestRpc),
      QUERY_SERVICE_HOST: '127.0.0.1',
      QUERY_SERVICE_PORT: String(ports.queryRpc),
      REPORTING_SERVICE_HOST: '127.0.0.1',
      REPORTING_SERVICE_PORT: String(ports.reportingRpc),
      ALERTING_SERVICE_HOST: '127.0.0.1',
      ALERTING_SERVICE_PORT: String(ports.alertingRpc),
      INTEGRITY_SERVICE_HOST: '127.0.0.1',
      INTEGRITY_SERVICE_PORT: String(ports.integrityRpc),
      SIEM_SERVICE_HOST: '127.0.0.1',
      SIEM_SERVICE_PORT: String(ports.siemRpc),
      RETENTION_SERVICE_HOST: '127.0.0.1',
      RETENTION_SERVICE_PORT: String(ports.retentionRpc),
      ...options.env,
    };
    const env = (app: AppName, name: string, extra: Record<string, string>): Record<string, string> => ({
      ...base,
      AUDIT_DATA_DIR: path.join(dir, name),
      ...extra,
    });
    this.ingest = new AppProcess(
      'ingest-gateway',
      'ingest-gateway',
      env('ingest-gateway', 'ingest-gateway', { DATABASE_URL: TEST_DATABASE_URL, HEALTH_PORT: String(ports.ingestHealth) }),
      dir,
    );
    this.query = new AppProcess(
      'query-store',
      'query-store',
      env('query-store', 'query-store', { HEALTH_PORT: String(ports.queryHealth), ...options.queryStoreEnv }),
      dir,
    );
    if (options.reporting || options.reportingEnv) {
      this.reporting = new AppProcess(
        'reporting',
        'reporting',
        env('reporting', 'reporting', {
          DATABASE_URL: TEST_DATABASE_URL,
          HEALTH_PORT: String(ports.reportingHealth),
          ...options.reportingEnv,
        }),
        dir,
      );
    }
    if (options.alertingEnv) {
      this.alerting = new AppProcess(
        'alerting',
        'alerting',
        env('alerting', 'alerting', { DATABASE_URL: TEST_DATABASE_URL, HEALTH_PORT: String(ports.alertingHealth), ...options.alertingEnv }),
        dir,
      );
    }
    if (options.integrity) {
      this.integrity = new AppProcess(
        'integrity',
        'integrity',
        env('integrity', 'integrity', {
          DATABASE_URL: TEST_DATABASE_URL,
          HEALTH_PORT: String(ports.integrityHealth),
          // As a deployment must (k8s audit-secrets): the signing key in the shared database outlives this
          // cluster's data directories, so every cluster run opens it with the same passphrase.
          AUDIT_INTEGRITY_KEY_PASSPHRASE: CLUSTER_INTEGRITY_KEY_PASSPHRASE,
        }),
        dir,
      );
    }
    if (options.siemEnv) {
      this.siem = new AppProcess(
        'siem-forwarder',
        'siem-forwarder',
        env('siem-forwarder', 'siem-forwarder', {
          DATABASE_URL: TEST_DATABASE_URL,
          HEALTH_PORT: String(ports.siemHealth),
          ...options.siemEnv,
        }),
        dir,
      );
    }
    if (options.retentionEnv) {
      this.retention = new AppProcess(
        'retention',
        'retention',
        env('retention', 'retention', {
          DATABASE_URL: TEST_DATABASE_URL,
          HEALTH_PORT: String(ports.retentionHealth),
          ...options.retentionEnv,
        }),
        dir,
      );
    }
    gatewayPorts.forEach((port, i) => {
      const name = `api-gateway-${i}`;
      this.gatewayPorts.push(port);
      this.gateways.push(
        new AppProcess(
          name,
          'api-gateway',
          env('api-gateway', name, {
            DATABASE_URL: TEST_DATABASE_URL,
            PORT: String(port),
            AUDIT_ALLOW_ANONYMOUS_LOOPBACK: 'true',
            ...options.gatewayEnv,
          }),
          dir,
        ),
      );
    });
  }

  static async start(options: ClusterOptions): Promise<DistributedCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), `audit-${options.name}-`));
    const ports = {
      ingestRpc: await freePort(),
      ingestHealth: await freePort(),
      queryRpc: await freePort(),
      queryHealth: await freePort(),
      reportingRpc: await freePort(),
      reportingHealth: await freePort(),
      alertingRpc: await freePort(),
      alertingHealth: await freePort(),
      integrityRpc: await freePort(),
      integrityHealth: await freePort(),
      siemRpc: await freePort(),
      siemHealth: await freePort(),
      retentionRpc: await freePort(),
      retentionHealth: await freePort(),
    };
    const gatewayPorts: number[] = [];
    for (let i = 0; i < (options.gateways ?? 1); i++) gatewayPorts.push(await freePort());
    const cluster = new DistributedCluster(dir, ports, gatewayPorts, options);
    try {
      cluster.ingest.start();
      cluster.query.start();
      cluster.alerting?.start();
      cluster.integrity?.start();
      cluster.siem?.start();
      cluster.retention?.start();
      await Promise.all([
        cluster.ingest.waitUntilReady(cluster.ingestHealthUrl),
        cluster.query.waitUntilReady(cluster.queryHealthUrl),
        cluster.alerting?.waitUntilReady(`http://127.0.0.1:${ports.alertingHealth}${HEALTH_PATHS.ready}`),
        cluster.integrity?.waitUntilReady(`http://127.0.0.1:${ports.integrityHealth}${HEALTH_PATHS.ready}`),
        cluster.siem?.waitUntilReady(`http://127.0.0.1:${ports.siemHealth}${HEALTH_PATHS.ready}`),
        cluster.retention?.waitUntilReady(`http://127.0.0.1:${ports.retentionHealth}${HEALTH_PATHS.ready}`),
      ]);
      if (cluster.reporting) {
        cluster.reporting.start();
        await cluster.reporting.waitUntilReady(`http://127.0.0.1:${ports.reportingHealth}${HEALTH_PATHS.ready}`);
      }
      for (const g of cluster.gateways) g.start();
      await Promise.all(cluster.gateways.map((g, i) => g.waitUntilReady(`${cluster.gatewayUrl(i)}${HEALTH_PATHS.ready}`)));
    } catch (e) {
      await cluster.stop(false);
      throw e;
    }
    return cluster;
  }

  get ingestHealthUrl(): string {
    return `http://127.0.0.1:${this.ports.ingestHealth}${HEALTH_PATHS.ready}`;
  }

  get queryHealthUrl(): string {
    return `http://127.0.0.1:${this.ports.queryHealth}${HEALTH_PATHS.ready}`;
  }

  get queryMetricsUrl(): string {
    return `http://127.0.0.1:${this.ports.queryHealth}${HEALTH_PATHS.metrics}`;
  }

  gatewayUrl(i = 0): string {
    return `http://127.0.0.1:${this.gatewayPorts[i]}`;
  }

  /** Logs of every app, for a failure message. */
  logs(lines = 30): string {
    return [
      this.ingest,
      this.query,
      ...(this.reporting ? [this.reporting] : []),
      ...(this.alerting ? [this.alerting] : []),
      ...(this.integrity ? [this.integrity] : []),
      ...(this.siem ? [this.siem] : []),
      ...(this.retention ? [this.retention] : []),
      ...this.gateways,
    ]
      .map((a) => `---- ${a.name} ----\n${a.logTail(lines)}`)
      .join('\n');
  }

  /** Stops every app (gateways first), and removes the data unless asked to keep it for a post-mortem. */
  async stop(removeData = true): Promise<void> {
    await Promise.all(this.gateways.map((g) => g.stop()));
    await this.reporting?.stop();
    await Promise.all([
      this.ingest.stop(),
      this.query.stop(),
      this.alerting?.stop(),
      this.integrity?.stop(),
      this.siem?.stop(),
      this.retention?.stop(),
    ]);
    if (removeData) rmSync(this.dir, { recursive: true, force: true });
  }
}
