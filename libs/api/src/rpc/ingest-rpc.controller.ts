import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { IngestResponse } from '@app/ingest';
import { ComponentHealth, INGEST_PORT, IngestPort, PATTERNS } from '../ports';
import { parseIngestMessage } from './rpc-messages';

/** The ingest-gateway's side of the TCP transport: routes each pattern to the in-process ingest port. */
@Controller()
export class IngestRpcController {
  constructor(@Inject(INGEST_PORT) private readonly ingest: IngestPort) {}

  @MessagePattern(PATTERNS.ingest)
  ingestEvents(@Payload() message: unknown): Promise<IngestResponse> {
    return this.ingest.ingest(parseIngestMessage(message));
  }

  @MessagePattern(PATTERNS.ingestHealth)
  health(): Promise<ComponentHealth> {
    return this.ingest.health();
  }
}
