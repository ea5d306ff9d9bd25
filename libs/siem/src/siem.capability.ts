import { loadSecretsKey, SecretBox } from '@app/common';
import { FileLogBus } from '@app/event-bus';
import { INGEST_PORT_DEFINITION } from '@app/ingest';
import { Capability, OUTBOUND_CONFIG } from '@app/runtime';
import { SiemIntegrationEntity, SIEM_MIGRATIONS } from './integration.entity';
import { IntegrationsController } from './integrations.controller';
import { SIEM_CONFIG } from './siem.config';
import { SIEM_PORT_DEFINITION } from './siem.port';
import { SiemService } from './siem.service';

/**
 * SIEM forwarding: integrations in the configuration store, each reading the log through its own consumer group
 * (audit.siem.<id>.v1) and writing syslog (CEF, LEEF, RFC 5424, RFC 3164, JSON) over UDP, TCP or TLS. In the
 * distributed mode it is the siem-forwarder.
 */
export const SIEM_CAPABILITY: Capability = {
  name: 'siem',
  entities: [SiemIntegrationEntity],
  migrations: SIEM_MIGRATIONS,
  config: [SIEM_CONFIG, OUTBOUND_CONFIG],
  needs: { bus: true, configStore: true },
  serves: [SIEM_PORT_DEFINITION],
  controllers: [IntegrationsController],
  async start(context) {
    const settings = context.settings(SIEM_CONFIG);
    const service = new SiemService(
      context.configStore(),
      context.consumers(),
      () => context.port(INGEST_PORT_DEFINITION),
      context.settings(OUTBOUND_CONFIG),
      context.metrics,
      context.logger,
      { ...settings, hotWindowMs: context.config.kafka.hotWindowMs },
      new SecretBox(await loadSecretsKey(settings.secretsKey, context.config.dataDir)),
    );
    await service.load();
    // A deleted integration's group stays subscribed until the process restarts; the embedded log would hold
    // records for it forever, so at start the groups of integrations that no longer exist are unregistered.
    const bus = context.bus();
    if (bus instanceof FileLogBus) {
      for (const g of await bus.registeredGroups()) {
        const id = /^audit\.siem\.(.+)\.v1$/.exec(g.group)?.[1];
        if (id !== undefined && !service.has(id) && !g.subscribed) {
          await bus.unregisterGroup(g.group);
        }
      }
    }
    context.closers.add('siem-senders', () => service.close());
    return {
      bindings: [{ port: SIEM_PORT_DEFINITION, implementation: service }],
      describe: { siem_failure_threshold: settings.failureThreshold, siem_lag_warn_percent: settings.lagWarnPercent },
      afterStart: () => service.afterStart(),
    };
  },
};
