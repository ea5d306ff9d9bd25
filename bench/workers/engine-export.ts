import { performance } from 'node:perf_hooks';
import { createClickHouse, DATABASE, releaseChdb } from '@app/query';

interface Input {
  dataDir: string;
  out: string;
  fromDay: string;
  toDay: string;
}

/**
 * The limit for archive throughput: the engine's own export of the same rows (the tenant's events of the
 * archived days), as gzip-compressed JSON Lines written to a file, with no encryption and no read-back.
 * Run on the app's data directory while the app is stopped (chdb is in-process).
 */
async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_INPUT ?? '{}') as Input;
  const ch = await createClickHouse({ kind: 'chdb', path: `${input.dataDir}/clickhouse` });
  try {
    const where = `tenant_id = 'default' AND toDate(timestamp) BETWEEN toDate('${input.fromDay}') AND toDate('${input.toDay}')`;
    const count = await ch.query({ query: `SELECT count() AS n FROM ${DATABASE}.events WHERE ${where}`, format: 'JSONEachRow' });
    const rows = Number(((await count.json()) as Array<{ n: string }>)[0].n);
    const started = performance.now();
    await ch.command({
      query: `SELECT * FROM ${DATABASE}.events WHERE ${where} ORDER BY timestamp INTO OUTFILE '${input.out}' TRUNCATE COMPRESSION 'gzip' FORMAT JSONEachRow`,
    });
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`${JSON.stringify({ rows, seconds })}\n`);
  } finally {
    await ch.close();
    await releaseChdb();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
