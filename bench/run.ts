import * as path from 'node:path';
import { createContext, removeDir } from './lib/context';
import { RESULTS_DIR } from './lib/processes';
import { machineInfo, markdownTable, printRow, Row, writeReport } from './lib/report';
import { alerting } from './scenarios/alerting';
import { batchIngest } from './scenarios/batch-ingest';
import { distributedIngest } from './scenarios/distributed';
import { integrity, integrityVerify } from './scenarios/integrity';
import { queries } from './scenarios/queries';
import { compliance, reporting } from './scenarios/reporting';
import { rebuild } from './scenarios/rebuild';
import { retention } from './scenarios/retention';
import { singleIngest } from './scenarios/single-ingest';
import { siem } from './scenarios/siem';

const SCENARIOS: Record<string, (ctx: ReturnType<typeof createContext>) => Promise<Row[]>> = {
  single: singleIngest,
  batch: batchIngest,
  queries,
  distributed: distributedIngest,
  alerting,
  reporting,
  compliance,
  siem,
  retention,
  rebuild,
  integrity,
  'integrity-verify': integrityVerify,
};

const USAGE = `usage: npm run bench [-- --full] [--only=${Object.keys(SCENARIOS).join(',')}] [--keep] [--cpu-prof]
  default   quick mode: 1M events for queries and reporting, 10 s loads (about 5 minutes on 2 cores)
  --full    10M events for queries, 30 s loads, 1M-event batch ingest
  --only    run only the named scenarios
  --keep    keep the scratch data directories
  --cpu-prof  profile the service processes (bench/results/profiles; summarise with node dist/bench/profile-summary.js <file>)`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const unknown = args.filter((a) => !['--full', '--keep', '--cpu-prof'].includes(a) && !a.startsWith('--only='));
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(' ')}\n${USAGE}`);
  const full = args.includes('--full');
  const only = args
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  for (const name of only ?? []) if (!SCENARIOS[name]) throw new Error(`unknown scenario '${name}'\n${USAGE}`);

  const ctx = createContext(
    full,
    args.includes('--cpu-prof') ? ['--cpu-prof', `--cpu-prof-dir=${path.join(RESULTS_DIR, 'profiles')}`] : [],
  );
  const machine = machineInfo();
  const started = Date.now();
  ctx.log(
    `HOMEPOT Audit bench, ${full ? 'full' : 'quick'} mode, ${machine.nproc} CPUs (${machine.cpu}), ${machine.ramGiB} GiB, scratch ${ctx.workDir}`,
  );
  const rows: Row[] = [];
  try {
    for (const [name, run] of Object.entries(SCENARIOS)) {
      if (only && !only.includes(name)) continue;
      try {
        for (const row of await run(ctx)) {
          rows.push(row);
          printRow(row);
        }
      } catch (e) {
        ctx.log(
          `scenario ${name} failed: ${(e as Error).stack ?? String(e)}${(e as Error).cause ? `\n  cause: ${String((e as Error).cause)}` : ''}`,
        );
        const row: Row = {
          scenario: name,
          measure: 'scenario',
          service: null,
          limit: null,
          limitIs: '',
          unit: '',
          skipped: `failed: ${(e as Error).message.split('\n')[0]}`,
        };
        rows.push(row);
        printRow(row);
      }
    }
  } finally {
    if (!args.includes('--keep')) removeDir(ctx.workDir);
  }
  const file = path.join(RESULTS_DIR, 'latest.md');
  writeReport(file, full ? 'full' : 'quick', rows, machine, (Date.now() - started) / 1000);
  process.stdout.write(`\n${markdownTable(rows)}\n\nwritten to ${path.relative(process.cwd(), file)}\n`);
  if (rows.some((r) => r.skipped?.startsWith('failed'))) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
