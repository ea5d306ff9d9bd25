import { INGEST_PORT_DEFINITION, IngestPort } from '@app/ingest';
import { Capability } from '@app/runtime';
import { COMPLETENESS_CONFIG } from './completeness.config';
import { SourcesController } from './completeness.controller';
import { COMPLETENESS_MIGRATIONS } from './completeness.migrations';
import { COMPLETENESS_PORT_DEFINITION } from './completeness.port';
import { CompletenessService } from './completeness.service';
import { CompletenessStore } from './completeness.store';

export const CONSUMER_GROUP_COMPLETENESS = 'audit.completeness.v1';

/**
 * Completeness per (tenant, source): its own consumer group (audit.completeness.v1) folds each event that
 * carries a `sequence` into the source's state in the configuration store, and reports gaps, late events,
 * duplicates and silence as audit events, metrics and in /audit/status. In the distributed mode it runs in
 * the integrity service (apps/integrity).
 */
export const COMPLETENESS_CAPABILITY: Capability = {
  name: 'completeness',
  migrations: COMPLETENESS_MIGRATIONS,
  config: [COMPLETENESS_CONFIG],
  needs: { bus: true, configStore: true },
  serves: [COMPLETENESS_PORT_DEFINITION],
  controllers: [SourcesController],
  async start(context) {
    const settings = context.settings(COMPLETENESS_CONFIG);
    let ingest: IngestPort | undefined;
    const service = new CompletenessService(new CompletenessStore(context.configStore()), {
      settings,
      // Resolved once, on first use (in the embedded app ingest is bound by then; elsewhere it is a TCP client).
      ingest: () => (ingest ??= context.port(INGEST_PORT_DEFINITION)),
      logger: context.logger,
      metrics: context.metrics,
    });
    const consumers = context.consumers();
    consumers.declare({ kind: 'events', group: CONSUMER_GROUP_COMPLETENESS, handle: (events) => service.handle(events) });
    let timer: NodeJS.Timeout | undefined;
    context.closers.add('completeness-silence', async () => clearInterval(timer));
    return {
      bindings: [{ port: COMPLETENESS_PORT_DEFINITION, implementation: service }],
      readiness: [{ name: 'completeness', required: false, check: () => service.health() }],
      describe: {
        consumer_group: CONSUMER_GROUP_COMPLETENESS,
        silence_factor: settings.silenceFactor,
        silence_min_seconds: settings.silenceMinimumMs / 1000,
      },
      afterStart: async () => {
        await consumers.start(CONSUMER_GROUP_COMPLETENESS);
        timer = setInterval(() => {
          service.checkSilence().catch((e: Error) => context.logger.warn({ err: e.message }, 'source silence check failed'));
        }, settings.checkIntervalMs);
        timer.unref();
      },
      drain: async () => clearInterval(timer),
    };
  },
};
