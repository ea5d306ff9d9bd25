import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { postJson, sleep, startEmbeddedApp, stop } from '../lib/processes';
import { Row } from '../lib/report';
import { percentile } from '../lib/load';

const BACKGROUND_PER_S = 200;

/**
 * Alert latency on the embedded app: with a steady background of other events, the time from the 2xx of the
 * event that crosses a rule's threshold to its webhook arriving at a local receiver. One group per sample
 * (group_by ip_address, threshold 3), so each sample is a fresh transition to firing.
 */
export async function alerting(ctx: BenchContext): Promise<Row[]> {
  const samples = ctx.full ? 200 : 40;
  const arrivals: number[] = [];
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(Date.now());
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const dataDir = freshDir(ctx, 'alerting');
  const app = await startEmbeddedApp('app-alerting', dataDir, { AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8' }, ctx.serviceNodeArgs);
  // Each answer read to its end (postJson): an unread one holds its connection open.
  const post = (path: string, body: unknown) => postJson(`${app.url}${path}`, body);
  const latencies: number[] = [];
  let stopping = false;
  let background: Promise<void> = Promise.resolve();
  try {
    const rule = await post('/audit/alerts', {
      alert_name: 'bench_latency',
      event_types: ['login_failed'],
      threshold: 3,
      time_window: 60,
      group_by: ['ip_address'],
      notification: { webhook: hook },
    });
    if (rule.status !== 201) throw new Error(`creating the rule answered ${rule.status}`);
    ctx.log(`alerting: ${samples} threshold crossings, ${BACKGROUND_PER_S} background events/s`);
    background = (async () => {
      while (!stopping) {
        await post(
          '/audit/events',
          Array.from({ length: BACKGROUND_PER_S / 10 }, () => ({ event_type: 'api_access' })),
        );
        await sleep(100);
      }
    })();
    for (let i = 0; i < samples; i++) {
      const ip = `198.18.${Math.floor(i / 250)}.${i % 250}`;
      await post('/audit/events', [
        { event_type: 'login_failed', ip_address: ip },
        { event_type: 'login_failed', ip_address: ip },
      ]);
      const before = arrivals.length;
      const crossing = await post('/audit/events', { event_type: 'login_failed', ip_address: ip });
      const acked = Date.now();
      if (crossing.status !== 201) throw new Error(`the crossing event answered ${crossing.status}`);
      while (arrivals.length === before && Date.now() - acked < 10_000) await sleep(2);
      latencies.push(arrivals.length > before ? arrivals[before] - acked : 10_000);
      await sleep(100);
    }
  } finally {
    stopping = true;
    await background;
    await stop(app.child);
    receiver.close();
    removeDir(dataDir);
  }
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => percentile(latencies, q * 100);
  const scenario = 'Alerting';
  const note = `${samples} crossings, ${BACKGROUND_PER_S} background events/s, embedded`;
  return [
    { scenario, measure: 'crossing event 2xx to webhook, p50', service: pick(0.5), limit: null, limitIs: '', unit: 'ms', note },
    {
      scenario,
      measure: 'crossing event 2xx to webhook, p99',
      service: pick(0.99),
      limit: 2000,
      limitIs: 'target',
      unit: 'ms',
      target: 'p99 < 2 s',
      met: pick(0.99) < 2000,
      note,
    },
  ];
}
