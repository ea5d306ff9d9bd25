import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { StoredAuditEvent } from '@app/contracts';
import { DetailedStatistics, Statistics } from '@app/query';
import { ComponentHealth, PATTERNS, QUERY_PORT, QueryPort, SearchResult, TailResult } from '../ports';
import { parseAwaitWritesMessage, parseFindByIdMessage, parseSearchMessage, parseTailMessage, parseTenantMessage } from './rpc-messages';

/** The query-store's side of the TCP transport: routes each pattern to the in-process query port. */
@Controller()
export class QueryRpcController {
  constructor(@Inject(QUERY_PORT) private readonly query: QueryPort) {}

  @MessagePattern(PATTERNS.search)
  search(@Payload() message: unknown): Promise<SearchResult> {
    const m = parseSearchMessage(message);
    return this.query.search(m.tenantId, m.filter, m.page);
  }

  @MessagePattern(PATTERNS.findById)
  findById(@Payload() message: unknown): Promise<StoredAuditEvent | null> {
    const m = parseFindByIdMessage(message);
    return this.query.findById(m.tenantId, m.id);
  }

  @MessagePattern(PATTERNS.statistics)
  statistics(@Payload() message: unknown): Promise<Statistics> {
    return this.query.statistics(parseTenantMessage(message, 'statistics').tenantId);
  }

  @MessagePattern(PATTERNS.detailedStatistics)
  detailedStatistics(@Payload() message: unknown): Promise<DetailedStatistics> {
    return this.query.detailedStatistics(parseTenantMessage(message, 'statistics-detailed').tenantId);
  }

  @MessagePattern(PATTERNS.tail)
  tail(@Payload() message: unknown): Promise<TailResult> {
    const m = parseTailMessage(message);
    return this.query.tail(m.tenantId, m.cursor, m.filter, m.limit);
  }

  @MessagePattern(PATTERNS.awaitWrites)
  awaitWrites(@Payload() message: unknown): Promise<boolean> {
    return this.query.awaitWrites(parseAwaitWritesMessage(message).timeoutMs);
  }

  @MessagePattern(PATTERNS.queryHealth)
  health(): Promise<ComponentHealth> {
    return this.query.health();
  }
}
