import { VERSION } from '@app/common';
import { Capability, startCapabilities } from './capability';
import { startHealthServer } from './health';
import { AppContext, RunningApp, runService } from './lifecycle';
import { Metrics } from './metrics';
import { InFlight, rpcController } from './rpc/port';
import { startRpcServer } from './rpc/rpc-server';

/** How long SIGTERM waits for the requests in hand: under the ingest deadline, within the pod's grace period. */
const DRAIN_MS = 15_000;
/**
 * A handler's promise settles just before Nest writes its answer, and closing the transport destroys its
 * sockets (unsent bytes are dropped): the last answers get this long to reach their callers first.
 */
const ANSWER_FLUSH_MS = 250;

/**
 * A distributed service: the named capabilities' service side, their ports on the TCP transport (one
 * listener per address), and probes and metrics on HEALTH_PORT. On SIGTERM: readiness turns 503, new requests
 * are refused with a retryable 503, the requests in hand are finished and answered, then everything closes.
 */
export async function startCapabilityService(context: AppContext, name: string, capabilities: Capability[]): Promise<RunningApp> {
  const { config, logger, closers } = context;
  const metrics = new Metrics();
  const started = await startCapabilities(context, capabilities, { mode: 'distributed', app: name, metrics });
  const inFlight = new InFlight();
  const listeners = new Map<string, { host: string; port: number; controllers: ReturnType<typeof rpcController>[] }>();
  for (const capability of capabilities) {
    for (const served of capability.serves ?? []) {
      const binding = started.bindings.find((b) => b.port === served);
      if (!binding) throw new Error(`the ${capability.name} capability did not bind its ${served.name} port`);
      const address = served.address.parse(context.env);
      const key = `${address.host}:${address.port}`;
      const listener = listeners.get(key) ?? { ...address, controllers: [] };
      listener.controllers.push(rpcController(binding.port, binding.implementation, inFlight));
      listeners.set(key, listener);
    }
  }
  for (const listener of listeners.values()) {
    const rpc = await startRpcServer({
      service: name,
      host: listener.host,
      port: listener.port,
      logger,
      controllers: listener.controllers,
    });
    closers.add('rpc', () => rpc.close());
  }
  const health = await startHealthServer({
    host: config.http.host,
    port: config.healthPort,
    checks: started.readiness,
    metrics,
    draining: () => inFlight.isDraining,
  });
  closers.add('health', () => health.close());
  await started.afterStart();
  return {
    describe: {
      version: VERSION,
      capabilities: capabilities.map((c) => c.name),
      rpc: [...listeners.keys()],
      health_port: health.port,
      ...started.describe,
    },
    drain: async () => {
      await inFlight.drain(DRAIN_MS);
      await new Promise((resolve) => setTimeout(resolve, ANSWER_FLUSH_MS));
      await started.drain();
    },
  };
}

/** The whole main.ts of a distributed service: `runCapabilities('query-store', [queryCapability])`. */
export function runCapabilities(name: string, capabilities: Capability[]): void {
  runService(name, (context) => startCapabilityService(context, name, capabilities));
}
