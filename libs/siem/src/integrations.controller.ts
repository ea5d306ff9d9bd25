import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { FastifyRequest } from 'fastify';
import { requestInfo, RequireScope } from '@app/api';
import { IntegrationView, SIEM_PORT_DEFINITION, SiemPort, TestResult } from './siem.port';

/** SIEM integrations; only routes to the SIEM port, so it works the same in the gateway and the all-in-one. */
@ApiTags('integrations')
@Controller('audit/integrations')
@RequireScope('admin')
export class IntegrationsController {
  constructor(@Inject(SIEM_PORT_DEFINITION.token) private readonly siem: SiemPort) {}

  @Post()
  @ApiOperation({
    summary:
      'Create a SIEM integration (syslog: CEF, LEEF, RFC 5424, RFC 3164 or JSON over UDP, TCP or TLS; https/hec: JSON lines or Splunk HEC)',
    description:
      'The destination need not be reachable: the integration is created, reports the receiver unreachable in its health and retries while the events wait on the log. The filter takes the search grammar (event_type, metadata.<key>, ...). Secrets (tls.key, token) are sealed at rest and shown as "[redacted]".',
  })
  create(@Body() body: unknown, @Req() req: FastifyRequest): Promise<IntegrationView> {
    return this.siem.create(requestInfo(req).tenantId, body);
  }

  @Get()
  @ApiOperation({ summary: 'List the SIEM integrations with their health' })
  async list(@Req() req: FastifyRequest): Promise<{ integrations: IntegrationView[] }> {
    return { integrations: await this.siem.list(requestInfo(req).tenantId) };
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One integration with its health: sent, failed, retried, lag (events, seconds, warning), last success, last error',
  })
  get(@Param('id') id: string, @Req() req: FastifyRequest): Promise<IntegrationView> {
    return this.siem.get(requestInfo(req).tenantId, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an integration (only the fields given)' })
  update(@Param('id') id: string, @Body() body: unknown, @Req() req: FastifyRequest): Promise<IntegrationView> {
    return this.siem.update(requestInfo(req).tenantId, id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an integration' })
  async remove(@Param('id') id: string, @Req() req: FastifyRequest): Promise<void> {
    await this.siem.remove(requestInfo(req).tenantId, id);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause delivery: events wait on the log (within its hot window) until resumed' })
  pause(@Param('id') id: string, @Req() req: FastifyRequest): Promise<IntegrationView> {
    return this.siem.setStatus(requestInfo(req).tenantId, id, 'paused');
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume delivery from where it paused, at once (the retry back-off is not waited out)' })
  resume(@Param('id') id: string, @Req() req: FastifyRequest): Promise<IntegrationView> {
    return this.siem.setStatus(requestInfo(req).tenantId, id, 'active');
  }

  @Post(':id/test')
  @HttpCode(200)
  @ApiOperation({ summary: 'Send a test event now; answers the exact bytes written and the outcome' })
  test(@Param('id') id: string, @Req() req: FastifyRequest): Promise<TestResult> {
    return this.siem.test(requestInfo(req).tenantId, id);
  }
}
