import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClickHouse, DATABASE, EXPORT_GZIP_LEVEL, releaseChdb, SELECT_COLUMNS } from '@app/query';

interface Input {
  dataDir: string;
  iterations: number;
}

/**
 * The limit for an export: the engine writing the same rows (the export's columns, in its (timestamp, id)
 * order) as CSVWithNames into /dev/null, plain and gzip-compressed (at the export's level), in-process, with no service, paging, writer or object store around
 * it. Run on the app's data directory before the app opens it (one chdb data directory per process).
 */
async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_INPUT ?? '{}') as Input;
  const ch = await createClickHouse({ kind: 'chdb', path: path.join(input.dataDir, 'clickhouse') });
  const best = async (into: string): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < input.iterations; i++) {
      const t0 = performance.now();
      await ch.command({
        query: `SELECT ${SELECT_COLUMNS} FROM ${DATABASE}.events WHERE tenant_id = 'default'
          ORDER BY toStartOfHour(timestamp), timestamp, id INTO OUTFILE '/dev/null' ${into} FORMAT CSVWithNames`,
      });
      times.push((performance.now() - t0) / 1000);
    }
    return times;
  };
  const plain = await best('APPEND');
  // The same with the engine's gzip at the level an export uses: the limit for a compressed export.
  const gzip = await best(`TRUNCATE COMPRESSION 'gzip' LEVEL ${EXPORT_GZIP_LEVEL}`);
  await ch.close();
  await releaseChdb();
  process.stdout.write(`${JSON.stringify({ seconds: Math.min(...plain), all: plain, gzipSeconds: Math.min(...gzip), gzipAll: gzip })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
