import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { StoredAuditEvent } from '@app/contracts';
import { IngestRequest, IngestResponse } from '@app/ingest';
import { DetailedStatistics, EventFilter, PageRequest, Statistics, StreamCursor } from '@app/query';
import { ComponentHealth, IngestPort, PATTERNS, QueryPort, SearchResult, TailResult } from './ports';
import { fromRpcError } from './rpc/rpc-errors';
import { AwaitWritesMessage, FindByIdMessage, SearchMessage, TailMessage, TenantMessage } from './rpc/rpc-messages';

export interface ServiceAddress {
  host: string;
  port: number;
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

/** One multiplexed TCP connection to a service, re-opened on the next request after it drops. */
class RpcClient {
  private readonly client: ClientProxy;

  constructor(
    private readonly service: string,
    address: ServiceAddress,
  ) {
    this.client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: address.host, port: address.port } });
  }

  async send<T>(pattern: string, data: object, timeoutMs: number): Promise<T> {
    try {
      return await firstValueFrom(this.client.send<T, object>(pattern, data).pipe(timeout(timeoutMs)));
    } catch (e) {
      throw fromRpcError(e, this.service, timeoutMs);
    }
  }

  close(): void {
    this.client.close();
  }
}

/** The ingest port over TCP to the ingest-gateway: what the API gateway uses instead of LocalIngest. */
export class TcpIngest implements IngestPort {
  private readonly rpc: RpcClient;

  constructor(
    address: ServiceAddress,
    private readonly timeouts: RpcTimeouts = DEFAULT_RPC_TIMEOUTS,
  ) {
    this.rpc = new RpcClient('ingest-gateway', address);
  }

  ingest(request: IngestRequest): Promise<IngestResponse> {
    return this.rpc.send(PATTERNS.ingest, request, this.timeouts.ingestMs);
  }

  health(): Promise<ComponentHealth> {
    return this.rpc.send(PATTERNS.ingestHealth, {}, this.timeouts.healthMs);
  }

  close(): void {
    this.rpc.close();
  }
}

/** The query port over TCP to the query-store: what the API gateway uses instead of LocalQuery. */
export class TcpQuery implements QueryPort {
  private readonly rpc: RpcClient;

  constructor(
    address: ServiceAddress,
    private readonly timeouts: RpcTimeouts = DEFAULT_RPC_TIMEOUTS,
  ) {
    this.rpc = new RpcClient('query-store', address);
  }

  search(tenantId: string, filter: EventFilter, page: PageRequest): Promise<SearchResult> {
    return this.rpc.send(PATTERNS.search, { tenantId, filter, page } satisfies SearchMessage, this.timeouts.queryMs);
  }

  findById(tenantId: string, id: string): Promise<StoredAuditEvent | null> {
    return this.rpc.send(PATTERNS.findById, { tenantId, id } satisfies FindByIdMessage, this.timeouts.queryMs);
  }

  statistics(tenantId: string): Promise<Statistics> {
    return this.rpc.send(PATTERNS.statistics, { tenantId } satisfies TenantMessage, this.timeouts.queryMs);
  }

  detailedStatistics(tenantId: string): Promise<DetailedStatistics> {
    return this.rpc.send(PATTERNS.detailedStatistics, { tenantId } satisfies TenantMessage, this.timeouts.queryMs);
  }

  tail(tenantId: string, cursor: StreamCursor | null, filter: EventFilter, limit: number): Promise<TailResult> {
    return this.rpc.send(PATTERNS.tail, { tenantId, cursor, filter, limit } satisfies TailMessage, this.timeouts.tailMs);
  }

  awaitWrites(timeoutMs: number): Promise<boolean> {
    return this.rpc.send(PATTERNS.awaitWrites, { timeoutMs } satisfies AwaitWritesMessage, timeoutMs + this.timeouts.healthMs);
  }

  health(): Promise<ComponentHealth> {
    return this.rpc.send(PATTERNS.queryHealth, {}, this.timeouts.healthMs);
  }

  close(): void {
    this.rpc.close();
  }
}
