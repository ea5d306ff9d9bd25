import { ConfigError, loadConfig } from '@app/common';
import { createClickHouse, EventStoreRepository, releaseChdb, RollupRepair } from '@app/query';

/**
 * Rebuilds the buckets of the statistics roll-ups (hours of audit.events_hourly, days of
 * audit.events_daily_keys) that disagree with audit.events, and prints them as one JSON line. An insert cut by a ClickHouse failure can leave its rows in one and not the
 * other. The embedded app does this itself at start-up and after a failed insert; in a distributed
 * deployment several query-stores write, so run this with every query-store stopped (scaled to 0), against
 * the same CLICKHOUSE_URL: `npm run store:reconcile-rollup`, or `node
 * dist/apps/query-store/src/reconcile-rollup.js` in the image.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const ch = await createClickHouse(config.clickhouse);
  try {
    // Run by an operator on a stopped deployment: no time limit on its reads.
    const repair: RollupRepair = new EventStoreRepository(ch, { queryTimeoutSeconds: 0 });
    const rebuilt = await repair.reconcileRollup();
    process.stdout.write(`${JSON.stringify({ rebuilt })}\n`);
  } finally {
    await ch.close();
    await releaseChdb();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof ConfigError ? e.message : (e as Error).stack}\n`);
  process.exit(e instanceof ConfigError ? 2 : 1);
});
