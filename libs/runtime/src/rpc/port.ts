import { Controller, Type } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { ConfigError, ConfigSection, defineConfigSection, env } from '@app/common';
import { UnavailableError } from '@app/contracts';
import { fromRpcError } from './rpc-errors';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFn = (...args: any[]) => Promise<unknown>;

/** How one method of a port crosses the transport. */
export interface PortMethod<F extends AnyFn> {
  /** The message pattern on the TCP transport (`audit.<capability>.<method>`). */
  pattern: string;
  /** Client side: the arguments as the message sent. */
  encode(...args: Parameters<F>): object;
  /**
   * Service side: validates the message on arrival (it crossed a network, and a version skew must fail
   * loudly) and turns it back into the arguments. Throws a ValidationError naming the field.
   */
  decode(message: unknown): Parameters<F>;
  /** Which of the client's deadlines applies. */
  deadline: keyof RpcTimeouts;
}

export type PortMethods<P> = { [K in keyof P]: P[K] extends AnyFn ? PortMethod<P[K]> : never };

/**
 * One definition per capability port, from which the TCP client (`tcpClient`), the RPC controller
 * (`rpcController`) and the injection token are derived. The in-process adapter of the embedded app is the
 * implementation itself: its callers are the HTTP controllers, whose input was validated already.
 */
export interface PortDefinition<P> {
  /** e.g. 'query'. */
  name: string;
  /** The service that serves it in the distributed mode, for messages: e.g. 'query-store'. */
  service: string;
  /** Nest injection token of the port, in the gateway and the embedded app alike. */
  token: symbol;
  /**
   * Where its service listens in the distributed mode (for the gateway and for other capabilities): a config
   * section of `<NAME>_SERVICE_HOST` and `<NAME>_SERVICE_PORT` (see serviceAddress).
   */
  address: ConfigSection<ServiceAddress>;
  methods: PortMethods<P>;
}

export function definePort<P>(definition: Omit<PortDefinition<P>, 'token'> & { token?: symbol }): PortDefinition<P> {
  return { ...definition, token: definition.token ?? Symbol(`${definition.name.toUpperCase()}_PORT`) };
}

export interface ServiceAddress {
  host: string;
  port: number;
}

/** The address section of a capability's service: `<PREFIX>_SERVICE_HOST` (default 127.0.0.1) and `_PORT`. */
export function serviceAddress(prefix: string, defaultPort: number): ConfigSection<ServiceAddress> {
  const hostVar = `${prefix}_SERVICE_HOST`;
  const portVar = `${prefix}_SERVICE_PORT`;
  return defineConfigSection({
    name: `${prefix.toLowerCase()}-service`,
    variables: [hostVar, portVar],
    parse: (e) => {
      const host = env.string(e, hostVar, '127.0.0.1') as string;
      if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw new ConfigError(hostVar, 'must be a host name or address');
      return { host, port: env.int(e, portVar, defaultPort, 1, 65535) };
    },
  });
}

/** Deadlines per kind of request: a service that hangs must not hold HTTP requests (or SSE polls) forever. */
export interface RpcTimeouts {
  /** Longer than the ingest-gateway's own publish deadline, so its 503 arrives rather than ours. */
  ingestMs: number;
  queryMs: number;
  tailMs: number;
  healthMs: number;
}

export const DEFAULT_RPC_TIMEOUTS: RpcTimeouts = { ingestMs: 20_000, queryMs: 30_000, tailMs: 10_000, healthMs: 5000 };

export type PortClient<P> = P & { close(): void };

/** The port over one multiplexed TCP connection to its service, re-opened on the next request after it drops. */
export function tcpClient<P>(
  port: PortDefinition<P>,
  address: ServiceAddress,
  timeouts: RpcTimeouts = DEFAULT_RPC_TIMEOUTS,
): PortClient<P> {
  const client: ClientProxy = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: address.host, port: address.port } });
  const adapter: Record<string, unknown> = { close: () => client.close() };
  for (const [name, method] of Object.entries(port.methods) as Array<[string, PortMethod<AnyFn>]>) {
    const ms = timeouts[method.deadline];
    adapter[name] = async (...args: unknown[]) => {
      try {
        return await firstValueFrom(client.send(method.pattern, method.encode(...args)).pipe(timeout(ms)));
      } catch (e) {
        throw fromRpcError(e, port.service, ms);
      }
    };
  }
  return adapter as PortClient<P>;
}

/**
 * Requests a service is answering, so shutdown can stop taking new ones and wait for these: an ingest request
 * answered 503 after its events were published would make the client's retry a duplicate.
 */
export class InFlight {
  private count = 0;
  private draining = false;
  private readonly idle: Array<() => void> = [];

  get size(): number {
    return this.count;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async run<T>(service: string, work: () => Promise<T>): Promise<T> {
    if (this.draining) throw new UnavailableError(`the ${service} is shutting down; retry (another replica will answer)`, 1);
    this.count++;
    try {
      return await work();
    } finally {
      this.count--;
      if (this.count === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /** Refuses new requests from now on, and resolves once those in hand are answered (or after `maxMs`). */
  drain(maxMs: number): Promise<void> {
    this.draining = true;
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * A Nest controller answering each of the port's patterns with the implementation: messages are decoded
 * (validated) on arrival, then the method runs, counted in `inFlight`.
 */
export function rpcController<P>(port: PortDefinition<P>, implementation: P, inFlight: InFlight): Type {
  class PortRpcController {}
  Object.defineProperty(PortRpcController, 'name', { value: `${port.name[0].toUpperCase()}${port.name.slice(1)}RpcController` });
  for (const [name, method] of Object.entries(port.methods) as Array<[string, PortMethod<AnyFn>]>) {
    const handler = function (message: unknown): Promise<unknown> {
      return inFlight.run(port.service, () => {
        const args = method.decode(message);
        return (implementation as Record<string, AnyFn>)[name](...args);
      });
    };
    Object.defineProperty(PortRpcController.prototype, name, { value: handler, writable: true, configurable: true });
    const descriptor = Object.getOwnPropertyDescriptor(PortRpcController.prototype, name) as PropertyDescriptor;
    Payload()(PortRpcController.prototype, name, 0);
    MessagePattern(method.pattern)(PortRpcController.prototype, name, descriptor);
    // Nest reads the parameter types from the design metadata of a method.
    Reflect.defineMetadata('design:paramtypes', [Object], PortRpcController.prototype, name);
  }
  Controller()(PortRpcController);
  return PortRpcController;
}
