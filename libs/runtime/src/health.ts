import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { HEALTH_PATHS } from '@app/common';
import { ErrorCode } from '@app/contracts';
import { Metrics } from './metrics';

export interface ComponentHealth {
  ok: boolean;
  detail?: Record<string, unknown>;
}

/**
 * One thing a process checks. `required` checks decide readiness ("this process can serve its own part");
 * the others are dependencies whose state shows in /audit/status and in metrics but never takes the process
 * out of its Service: a gateway that is unready because the query store is down would turn a partial outage
 * into a total one for reads and writes alike.
 */
export interface ReadinessCheck {
  name: string;
  check(): Promise<ComponentHealth>;
  /** Default true. False for a dependency owned by another process. */
  required?: boolean;
}

export interface CheckResults {
  /** Every required check passed. */
  ok: boolean;
  /** Every check passed, dependencies included. */
  allOk: boolean;
  checks: Record<string, ComponentHealth & { required: boolean }>;
}

export async function runChecks(checks: ReadinessCheck[]): Promise<CheckResults> {
  const results = await Promise.all(
    checks.map(async (c) => {
      const required = c.required !== false;
      try {
        return [c.name, { ...(await c.check()), required }] as const;
      } catch (e) {
        return [c.name, { ok: false, detail: { error: (e as Error).message }, required }] as const;
      }
    }),
  );
  return {
    ok: results.every(([, r]) => r.ok || !r.required),
    allOk: results.every(([, r]) => r.ok),
    checks: Object.fromEntries(results),
  };
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
 * Probes and metrics of a service without a public API (ingest-gateway, query-store, capability services), on
 * HEALTH_PORT: the same paths and bodies as the API's HealthController. `draining` answers ready with 503
 * once shutdown began, so the orchestrator stops routing before the listeners close.
 */
export async function startHealthServer(options: {
  host: string;
  port: number;
  checks: ReadinessCheck[];
  metrics: Metrics;
  draining?: () => boolean;
}): Promise<HealthServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === HEALTH_PATHS.live) return send(res, 200, JSON.stringify({ status: 'ok' }));
    if (req.method === 'GET' && path === HEALTH_PATHS.ready) {
      if (options.draining?.()) return send(res, 503, JSON.stringify({ status: 'draining', checks: {} }));
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
