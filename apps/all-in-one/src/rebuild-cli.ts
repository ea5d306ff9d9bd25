import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadConfig } from '@app/common';
import { TOPIC_EVENTS } from '@app/contracts';
import { FileLogBus } from '@app/event-bus';
import { createDataSource } from '@app/persistence';
import { createClickHouse, migrateClickHouse, releaseChdb } from '@app/query';
import {
  ArchiveRepository,
  archivesToRestore,
  emptyStore,
  RebuildError,
  RebuildProgress,
  rebuildQueryStore,
  RETENTION_CONFIG,
  RETENTION_MIGRATIONS,
  storedCounts,
} from '@app/retention';
import { openObjectStore, S3ObjectStore, STORAGE_CONFIG } from '@app/storage';

const USAGE = `usage: npm run rebuild -- [--force] [--store-dir <new empty directory>]
  With the service stopped, builds the query store again from the archives plus the event log.
  --force       the store is not empty: replace it (chdb: the old directory is moved aside and kept;
                a ClickHouse server's tables are emptied)
  --store-dir   chdb only: build into this new directory instead of AUDIT_DATA_DIR/clickhouse`;

function parseArgs(argv: string[]): { force: boolean; storeDir?: string } {
  const out: { force: boolean; storeDir?: string } = { force: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--force') out.force = true;
    else if (argv[i] === '--store-dir' && argv[i + 1] !== undefined) out.storeDir = path.resolve(argv[++i]);
    else throw new RebuildUsageError(`unknown argument ${argv[i]}\n${USAGE}`);
  }
  return out;
}

class RebuildUsageError extends Error {}

/**
 * The process that has the chdb store open: the engine writes its PID to `status` while it runs and removes
 * the file when it closes (after a kill -9 the file stays, naming a process that is gone).
 */
function chdbHolder(dir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dir, 'status'), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(/^PID: (\d+)$/m.exec(text)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

const say = (line: string): void => void process.stderr.write(`rebuild: ${line}\n`);

function printer(): (p: RebuildProgress) => void {
  let lastLog = 0;
  return (p) => {
    if (p.phase === 'archives') {
      say(`archive ${p.done}/${p.total} (${p.archive?.tenant_id} ${p.archive?.category} ${p.archive?.day}): ${p.events} events restored`);
    } else if (p.phase === 'log') {
      if (Date.now() - lastLog < 1000 && BigInt(p.offset) + 1n < BigInt(p.end)) return;
      lastLog = Date.now();
      say(`log at offset ${p.offset} of ${p.end}: ${p.stored} stored, ${p.duplicates} already stored`);
    } else if (p.phase === 'rollups') {
      say('reconciling the statistics roll-ups with the events');
    }
  };
}

/**
 * `npm run rebuild`: the query store from the archives plus the log (libs/retention/src/rebuild.ts), run with
 * the service stopped. Progress goes to stderr, the report to stdout as one JSON line.
 */
async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig();
  const retention = RETENTION_CONFIG.parse(process.env);
  const storage = STORAGE_CONFIG.parse(process.env);
  const embedded = config.kafka.kind === 'embedded';
  const logTopic = path.join(config.dataDir, 'log', 'topics', TOPIC_EVENTS);
  if (embedded && !existsSync(logTopic)) {
    throw new RebuildError('no_event_log', `no event log at ${logTopic}: is AUDIT_DATA_DIR the service's data directory?`);
  }
  const holder = config.clickhouse.kind === 'chdb' ? chdbHolder(config.clickhouse.path) : undefined;
  if (holder !== undefined) {
    // Checked before the configuration store is opened: PGlite, like chdb, is one process's at a time.
    throw new RebuildError('service_running', `the service (pid ${holder}) has the query store open: stop it first`);
  }
  if (args.storeDir && config.clickhouse.kind !== 'chdb') {
    throw new RebuildUsageError('--store-dir is for the embedded store (chdb); with CLICKHOUSE_URL the store is the server');
  }
  const ds = await createDataSource({ target: config.postgres, entities: [], migrations: RETENTION_MIGRATIONS });
  const objects = openObjectStore(storage, config.dataDir);
  const closers: Array<() => Promise<unknown>> = [() => ds.destroy()];
  if (objects instanceof S3ObjectStore) closers.push(async () => objects.close());
  try {
    const archives = new ArchiveRepository(ds);
    // Before anything is moved or emptied: an encrypted archive with no identity stops the rebuild here.
    await archivesToRestore(archives, retention.archiveIdentity);
    let target = config.clickhouse;
    if (target.kind === 'chdb') {
      const dir = args.storeDir ?? target.path;
      if (existsSync(dir) && readdirSync(dir).length > 0) {
        if (!args.force) throw new RebuildError('store_not_empty', `${dir} is not empty: stop the service and pass --force to replace it`);
        const aside = `${dir}.before-rebuild-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        renameSync(dir, aside);
        say(`the old store was moved to ${aside} (delete it once the rebuilt store is checked)`);
      }
      mkdirSync(dir, { recursive: true });
      target = { kind: 'chdb', path: dir };
    }
    const ch = await createClickHouse(target);
    closers.push(async () => {
      await ch.close();
      await releaseChdb();
    });
    await migrateClickHouse(ch);
    const held = Object.values(await storedCounts(ch)).reduce((a, b) => a + b, 0);
    if (held > 0) {
      if (!args.force)
        throw new RebuildError(
          'store_not_empty',
          `the query store holds ${held} events: stop every query-store and pass --force to empty it`,
        );
      await emptyStore(ch);
      say(`emptied the query store (${held} events)`);
    }
    let bus: FileLogBus | undefined;
    if (embedded) {
      // Read only: nothing is appended, and segments are left to the service's own trimming.
      bus = new FileLogBus({
        dir: path.join(config.dataDir, 'log'),
        fsync: config.kafka.kind === 'embedded' ? config.kafka.fsync : true,
        segmentBytes: 128 * 1024 * 1024,
        maxBatchRecords: config.batching.maxEvents,
        batchIntervalMs: 0,
        hotWindowMs: config.kafka.hotWindowMs,
        retentionCheckMs: 2 ** 31 - 1,
      });
      const opened = bus;
      closers.push(() => opened.close());
    }
    const report = await rebuildQueryStore({
      ch,
      archives,
      objects,
      identity: retention.archiveIdentity,
      bus,
      trust: embedded ? 'gateway-records' : 'none',
      defaultTenant: config.defaultTenant,
      onProgress: printer(),
    });
    say(
      `done: ${report.total_events} events (${report.archives.events} from ${report.archives.restored} archives, ${report.log.stored} from the log)`,
    );
    process.stdout.write(`${JSON.stringify({ store: target.kind === 'chdb' ? target.path : 'clickhouse', ...report })}\n`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

main().catch((e: unknown) => {
  const known = e instanceof ConfigError || e instanceof RebuildError || e instanceof RebuildUsageError;
  process.stderr.write(`rebuild failed: ${known ? (e as Error).message : (e as Error).stack}\n`);
  process.exit(e instanceof ConfigError || e instanceof RebuildUsageError ? 2 : 1);
});
