import * as path from 'node:path';
import { InProgressError, ValidationError } from '@app/contracts';
import { INGEST_PORT_DEFINITION } from '@app/ingest';
import { createClickHouse } from '@app/query';
import { dumpPGlite } from '@app/persistence';
import { Capability } from '@app/runtime';
import { BackupController } from './backup.controller';
import { BACKUP_PORT_DEFINITION, BackupPort } from './backup.port';
import { takeSnapshot } from './snapshot';

/**
 * The embedded mode's online backup (POST /audit/backup, `npm run backup`). Only the all-in-one runs it: in the
 * distributed mode Kafka, ClickHouse, Postgres and the bucket are backed up with their own tools.
 */
export const BACKUP_CAPABILITY: Capability = {
  name: 'backup',
  needs: { configStore: true },
  serves: [BACKUP_PORT_DEFINITION],
  controllers: [BackupController],
  async start(context) {
    const { config } = context;
    let running = false;
    const implementation: BackupPort = {
      backup: async () => {
        if (context.mode !== 'embedded' || config.clickhouse.kind !== 'chdb' || config.postgres.kind !== 'pglite') {
          throw new ValidationError('backup is for the embedded mode only', [{ field: '/', message: 'see docs/deployment.md' }]);
        }
        if (running) throw new InProgressError('a backup of this data directory is already running');
        running = true;
        try {
          // A second client on the same chdb session (one data directory per process); never closed, as closing
          // would end the query store's session too.
          const ch = await createClickHouse(config.clickhouse);
          const out = path.join(config.dataDir, 'backups', new Date().toISOString().replace(/[:.]/g, '-'));
          const manifest = await takeSnapshot(
            {
              dataDir: config.dataDir,
              chdb: async (query) => {
                if (/^\s*(SELECT|SHOW)/i.test(query)) return (await ch.query({ query, format: 'JSONEachRow' })).json();
                await ch.command({ query });
                return [];
              },
              dumpPostgres: () => dumpPGlite(config.postgres.kind === 'pglite' ? config.postgres.dataDir : ''),
            },
            out,
          );
          await context
            .port(INGEST_PORT_DEFINITION)
            .ingest({
              events: [
                {
                  event_type: 'backup_completed',
                  description: `Backup of the data directory written to ${out}`,
                  source: 'homepot-audit',
                  metadata: { path: out, tables: manifest.tables.length, log_files: manifest.log_files },
                },
              ],
              batch: false,
              tenantId: config.defaultTenant,
            })
            .catch((e: Error) => context.logger.warn({ err: e.message }, 'could not record the backup as an audit event'));
          return { path: out, manifest };
        } finally {
          running = false;
        }
      },
    };
    return { bindings: [{ port: BACKUP_PORT_DEFINITION, implementation }], describe: { backups: path.join(config.dataDir, 'backups') } };
  },
};
