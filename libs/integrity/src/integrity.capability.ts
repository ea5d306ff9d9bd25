import { INGEST_PORT_DEFINITION } from '@app/ingest';
import { QUERY_PORT_DEFINITION } from '@app/query';
import { Capability } from '@app/runtime';
import { INTEGRITY_CONFIG } from './integrity.config';
import { EventProofController, IntegrityController } from './integrity.controller';
import { INTEGRITY_PORT_DEFINITION } from './integrity.port';
import { OperationsController } from './operations.controller';
import { IntegrityService } from './integrity.service';
import { FrontierSeed, leafHasher } from './leaf-hasher';
import { INTEGRITY_MIGRATIONS } from './migrations';
import { PRUNING_MIGRATIONS } from './pruning.migrations';
import { PruningStore } from './pruning.store';
import { loadSigningKey } from './signing-key';
import { TreeStore } from './tree.store';

export const CONSUMER_GROUP_INTEGRITY = 'audit.integrity.v1';

function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/**
 * Tamper evidence: an RFC 6962 tree per tenant over the events in log order (its consumer group
 * audit.integrity.v1), C2SP checkpoints signed with Ed25519 (hourly, on demand, at shutdown), proofs and
 * verification against the query store. Tables in the configuration store; see docs/architecture.md.
 */
export const INTEGRITY_CAPABILITY: Capability = {
  name: 'integrity',
  migrations: [...INTEGRITY_MIGRATIONS, ...PRUNING_MIGRATIONS],
  config: [INTEGRITY_CONFIG],
  needs: { bus: true, configStore: true },
  serves: [INTEGRITY_PORT_DEFINITION],
  // The operations endpoints live here for now: they read the query port and this process's metrics.
  controllers: [IntegrityController, EventProofController, OperationsController],
  async start(context) {
    const settings = context.settings(INTEGRITY_CONFIG);
    const ds = context.configStore();
    const { key, source } = await loadSigningKey(ds, {
      key: settings.key,
      passphrase: settings.keyPassphrase,
      dataDir: context.config.dataDir,
    });
    const tree = new TreeStore(ds);
    const service = new IntegrityService(tree, {
      origin: settings.origin,
      key,
      logger: context.logger,
      // Resolved on first use (every capability has started by then), once: in the distributed mode each
      // resolution would open another TCP client.
      ingest: once(() => context.port(INGEST_PORT_DEFINITION)),
      query: once(() => context.port(QUERY_PORT_DEFINITION)),
      pruning: new PruningStore(ds),
    });
    const consumers = context.consumers();
    const hasher = leafHasher();
    context.closers.add('integrity-leaf-hasher', () => hasher.close());
    const hashOptions = { trust: consumers.trust, defaultTenant: context.config.defaultTenant };
    // What the hasher's speculative frontiers must be told before its next batch (see hashRecords).
    const seeds = new Map<string, FrontierSeed>();
    consumers.declare({
      // Raw records: they are decoded, validated and hashed on the hasher's thread (leaf-hasher.ts).
      kind: 'raw',
      group: CONSUMER_GROUP_INTEGRITY,
      // Appending is idempotent per event id: a redelivered batch appends nothing twice.
      handle: async (batch, position) => {
        const sent = [...seeds.values()];
        const { tenants, refused } = await hasher.hash(batch.records, hashOptions, sent);
        // Only what was sent: another partition's handler may have set a seed meanwhile.
        for (const s of sent) if (seeds.get(s.tenantId) === s) seeds.delete(s.tenantId);
        await position.deadLetter(refused);
        for (const { tenantId, leaves, grown } of tenants) {
          try {
            await position.isolating(
              leaves,
              async (some) => void (await tree.appendLeaves(tenantId, some, some === leaves ? grown : undefined)),
              (l) => ({ eventId: l.eventId, tenantId, partition: l.partition, offset: l.offset }),
            );
          } finally {
            // Unless the hasher's nodes are what was committed, it is told the frontier that was (or to forget).
            const committed = tree.committedFrontier(tenantId);
            if (grown === undefined || committed?.nodes !== grown.frontier) seeds.set(tenantId, { tenantId, frontier: committed ?? null });
          }
        }
      },
    });
    /**
     * Signs every tenant whose tree grew by more than the checkpoint event the last checkpoint caused itself,
     * so an idle tenant is not given one event and one checkpoint per hour forever.
     */
    const signGrown = async (reason: string, minGrowth: number) => {
      for (const t of await tree.tenants()) {
        if (t.size - Math.max(t.checkpointed, 0) >= minGrowth || (t.checkpointed < 0 && t.size > 0)) {
          await service.createCheckpoint(t.tenantId, reason);
        }
      }
    };
    let timer: NodeJS.Timeout | undefined;
    context.closers.add('integrity-checkpoints', async () => clearInterval(timer));
    return {
      bindings: [{ port: INTEGRITY_PORT_DEFINITION, implementation: service }],
      describe: { origin: settings.origin, key: source, checkpoint_minutes: settings.checkpointMinutes },
      afterStart: async () => {
        await consumers.start(CONSUMER_GROUP_INTEGRITY);
        timer = setInterval(() => {
          signGrown('scheduled', 2).catch((e: Error) => context.logger.warn({ err: e.message }, 'scheduled integrity checkpoint failed'));
        }, settings.checkpointMinutes * 60_000);
        timer.unref();
      },
      // The ending checkpoint (evidence that logging stopped here, PCI DSS 10.2.1.6): whatever grew at all.
      drain: async () => {
        clearInterval(timer);
        await signGrown('shutdown', 1).catch((e: Error) => context.logger.warn({ err: e.message }, 'shutdown integrity checkpoint failed'));
      },
    };
  },
};
