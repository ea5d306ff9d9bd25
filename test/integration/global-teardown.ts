import { spawnSync } from 'node:child_process';
import { ROOT } from './support/environment';

/** Stops the broker only when the global setup started it; one that was already running is left alone. */
export default async function globalTeardown(): Promise<void> {
  if ((globalThis as Record<string, unknown>).__auditS3StartedBySetup === true) {
    spawnSync('bash', ['scripts/s3proxy.sh', 'stop'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  }
  if ((globalThis as Record<string, unknown>).__auditKafkaStartedBySetup !== true) return;
  const r = spawnSync('bash', ['scripts/kafka.sh', 'stop'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`bash scripts/kafka.sh stop failed:\n${r.stdout}${r.stderr}`);
}
