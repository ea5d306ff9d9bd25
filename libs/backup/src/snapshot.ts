import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** What the snapshot needs from the running process: its two embedded stores. */
export interface SnapshotSources {
  dataDir: string;
  /** Runs one statement on the process's chdb session (the query store's directory). */
  chdb(query: string): Promise<Array<Record<string, unknown>>>;
  /** PGlite's own consistent dump of its data directory (a tar, gzip). */
  dumpPostgres(): Promise<Blob>;
}

export interface BackupManifest {
  format: 'homepot-audit-backup/1';
  created_at: string;
  /** Consumer cursors copied first: every store is at or past them, and every consumer is idempotent on replay. */
  cursors: Record<string, unknown>;
  tables: Array<{ table: string; parts: number }>;
  log_files: number;
}

const exists = (p: string) =>
  fsp.stat(p).then(
    () => true,
    () => false,
  );

async function copyTree(from: string, to: string, skip: (rel: string) => boolean = () => false, rel = ''): Promise<number> {
  let files = 0;
  await fsp.mkdir(to, { recursive: true });
  for (const e of await fsp.readdir(from, { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (skip(r)) continue;
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) files += await copyTree(src, dst, skip, r);
    else if (e.isSymbolicLink()) await fsp.symlink(await fsp.readlink(src), dst);
    else if (e.isFile()) {
      await fsp.copyFile(src, dst);
      files++;
    }
  }
  return files;
}

/**
 * A consistent backup of a running embedded data directory, without pausing ingest or the consumers:
 * 1. the consumer cursors (log/**.json, each replaced atomically by rename) are copied first;
 * 2. PGlite dumps itself; chdb freezes every MergeTree table (hard links of immutable parts);
 * 3. the log segments are copied last, so they hold everything the cursors and the stores refer to (a torn
 *    last record is truncated when the restored log opens: it was never acknowledged);
 * 4. the objects and the generated keys.
 * Restored, each consumer resumes at its copied cursor, behind or level with its store, and replays what is
 * in between; every consumer is idempotent by event id or log position, so nothing is stored twice.
 */
export async function takeSnapshot(src: SnapshotSources, out: string): Promise<BackupManifest> {
  if (await exists(out)) throw new Error(`${out} exists: a backup goes into a new directory`);
  await fsp.mkdir(out, { recursive: true });
  const logDir = path.join(src.dataDir, 'log');
  const cursors: Record<string, unknown> = {};
  const cursorFiles: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json')) cursorFiles.push(p);
    }
  };
  await walk(logDir);
  const cursorBytes = await Promise.all(cursorFiles.map(async (f) => ({ f, bytes: await fsp.readFile(f).catch(() => undefined) })));

  const pg = await src.dumpPostgres();
  await fsp.writeFile(path.join(out, 'postgres.tar.gz'), Buffer.from(await pg.arrayBuffer()));

  const name = `backup_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const tables = (await src.chdb(
    "SELECT database, name FROM system.tables WHERE database = 'audit' AND engine LIKE '%MergeTree' ORDER BY name",
  )) as Array<{ database: string; name: string }>;
  for (const t of tables) await src.chdb(`ALTER TABLE \`${t.database}\`.\`${t.name}\` FREEZE WITH NAME '${name}'`);
  const chDir = path.join(src.dataDir, 'clickhouse');
  const chOut = path.join(out, 'clickhouse');
  // The schema and every table directory's own files, without their parts: the frozen parts go in instead.
  await copyTree(chDir, chOut, (rel) => {
    const parts = rel.split(path.sep);
    if (parts[0] === 'shadow' || parts[0] === 'tmp') return true;
    // store/<prefix>/<uuid>/<entry>: the parts (and insert temporaries) are skipped, as are the dedup logs,
    // written in place; the schema's .sql files and format_version.txt are kept.
    return parts[0] === 'store' && parts.length === 4 && (/^\w+_\d+_\d+_\d+(_\d+)?$/.test(parts[3]) || parts[3] === 'deduplication_logs');
  });
  const shadow = path.join(chDir, 'shadow', name, 'store');
  const counted: Array<{ table: string; parts: number }> = [];
  if (await exists(shadow)) await copyTree(shadow, path.join(chOut, 'store'));
  for (const t of tables) {
    const [row] = (await src.chdb(
      `SELECT count() AS parts FROM system.parts WHERE database = '${t.database}' AND table = '${t.name}' AND active`,
    )) as Array<{ parts: string | number }>;
    counted.push({ table: t.name, parts: Number(row?.parts ?? 0) });
  }
  await fsp.rm(path.join(chDir, 'shadow', name), { recursive: true, force: true });

  const logFiles = await copyTree(logDir, path.join(out, 'log'), (rel) => rel.endsWith('.json') || rel.endsWith('.tmp'));
  for (const { f, bytes } of cursorBytes) {
    if (bytes === undefined) continue;
    const dst = path.join(out, 'log', path.relative(logDir, f));
    await fsp.mkdir(path.dirname(dst), { recursive: true });
    await fsp.writeFile(dst, bytes);
    cursors[path.relative(logDir, f)] = JSON.parse(bytes.toString('utf8')) as unknown;
  }
  for (const extra of ['objects', 'integrity', 'alerting-secrets.key']) {
    const p = path.join(src.dataDir, extra);
    if (!(await exists(p))) continue;
    if ((await fsp.stat(p)).isDirectory()) await copyTree(p, path.join(out, extra));
    else await fsp.copyFile(p, path.join(out, extra));
  }
  const manifest: BackupManifest = {
    format: 'homepot-audit-backup/1',
    created_at: new Date().toISOString(),
    cursors,
    tables: counted,
    log_files: logFiles,
  };
  await fsp.writeFile(path.join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Restores a backup into a new data directory; PGlite loads its dump there (the app then opens it as usual). */
export async function restoreSnapshot(from: string, dataDir: string): Promise<BackupManifest> {
  const manifest = JSON.parse(await fsp.readFile(path.join(from, 'manifest.json'), 'utf8')) as BackupManifest;
  if (manifest.format !== 'homepot-audit-backup/1') throw new Error(`${from} is not a HOMEPOT Audit backup`);
  if (await exists(dataDir)) {
    if ((await fsp.readdir(dataDir)).length > 0) throw new Error(`${dataDir} is not empty: restore into a new directory`);
  }
  await copyTree(from, dataDir, (rel) => rel === 'postgres.tar.gz' || rel === 'manifest.json');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
  const dump = new Blob([await fsp.readFile(path.join(from, 'postgres.tar.gz'))]);
  const pg = new PGlite(path.join(dataDir, 'postgres'), { loadDataDir: dump });
  await pg.waitReady;
  await pg.close();
  return manifest;
}
