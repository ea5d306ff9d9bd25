import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { BenchContext } from '../lib/context';
import { DIST } from '../lib/processes';
import { Row } from '../lib/report';

const GATEWAY = path.join(DIST, 'apps', 'api-gateway', 'src', 'main.js');

export async function distributedIngest(ctx: BenchContext): Promise<Row[]> {
  const scenario = 'Distributed ingest';
  if (!existsSync(GATEWAY)) {
    ctx.log('distributed ingest: skipped, dist/apps/api-gateway/src/main.js does not exist');
    return [
      {
        scenario,
        measure: 'events/s gateway → Kafka → query store',
        service: null,
        limit: null,
        limitIs: '',
        unit: '',
        skipped: 'dist/apps/api-gateway/src/main.js does not exist (distributed apps not built)',
      },
    ];
  }
  return [];
}
