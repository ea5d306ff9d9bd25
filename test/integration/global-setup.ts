import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { assertNodeMajor } from '../support/node-version';
import { ROOT, TEST_DATABASE_URL } from './support/environment';

const SPAWNED_APPS = ['api-gateway', 'ingest-gateway', 'query-store'].map((app) => path.join(ROOT, 'dist/apps', app, 'src/main.js'));

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** swc rewrites every output on a build, so an entry file older than any source means dist/ is stale. */
function distIsStale(): boolean {
  const sources = Math.max(newestSource(path.join(ROOT, 'apps')), newestSource(path.join(ROOT, 'libs')));
  try {
    return SPAWNED_APPS.some((entry) => statSync(entry).mtimeMs < sources);
  } catch {
    return true;
  }
}

function run(command: string, args: string[], timeoutMs: number): { ok: boolean; output: string } {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

/**
 * The integration tier needs a real broker and Postgres: when either is missing the run fails here with the
 * reason, it never skips. The apps are spawned from dist/, so it is rebuilt first when older than the sources.
 */
export default async function globalSetup(): Promise<void> {
  assertNodeMajor();
  const wasRunning = run('bash', ['scripts/kafka.sh', 'status'], 30_000).ok;
  const start = run('bash', ['scripts/kafka.sh', 'start'], 300_000);
  if (!start.ok) throw new Error(`the Kafka broker could not be started (bash scripts/kafka.sh start):\n${start.output}`);
  (globalThis as Record<string, unknown>).__auditKafkaStartedBySetup = !wasRunning;
  // The S3 object store's tests run against s3proxy (filesystem backend), started like the broker.
  const s3WasRunning = run('bash', ['scripts/s3proxy.sh', 'status'], 30_000).ok;
  const s3 = run('bash', ['scripts/s3proxy.sh', 'start'], 300_000);
  if (!s3.ok) throw new Error(`s3proxy could not be started (bash scripts/s3proxy.sh start):\n${s3.output}`);
  (globalThis as Record<string, unknown>).__auditS3StartedBySetup = !s3WasRunning;

  // Rebuilt only when stale: other processes (a benchmark, a dev server) may be running from dist/.
  if (distIsStale()) {
    const build = run('npm', ['run', 'build'], 300_000);
    if (!build.ok) throw new Error(`npm run build failed:\n${build.output}`);
  }

  const pg = new Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await pg.connect();
    await pg.query('SELECT 1');
  } catch (e) {
    throw new Error(`Postgres is not reachable at ${TEST_DATABASE_URL} (set AUDIT_TEST_DATABASE_URL): ${(e as Error).message}`);
  } finally {
    await pg.end().catch(() => undefined);
  }
}
