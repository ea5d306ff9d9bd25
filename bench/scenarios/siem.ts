import { createServer, Server, Socket, connect } from 'node:net';
import { AddressInfo } from 'node:net';
import { BenchContext, freshDir, removeDir } from '../lib/context';
import { AUTH_HEADERS, cpuSince, cpuSplit, CpuSplit, sleep, startEmbeddedApp, stop } from '../lib/processes';
import { Row } from '../lib/report';
import { percentile } from '../lib/load';

const BACKGROUND_PER_S = 200;

/** A TCP syslog receiver with LF framing: every line read, with when its last byte arrived. */
class LineReceiver {
  readonly lines: string[] = [];
  readonly at: number[] = [];
  private readonly server: Server;

  constructor() {
    this.server = createServer((socket: Socket) => {
      let rest = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        const now = Date.now();
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const p of parts) {
          this.lines.push(p);
          this.at.push(now);
        }
      });
      socket.on('error', () => undefined);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return (this.server.address() as AddressInfo).port;
  }

  close(): void {
    this.server.close();
  }
}

const cpuPer1000 = (seconds: number, events: number): string => ((seconds * 1000 * 1000) / events).toFixed(1);

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(2);
  }
  return true;
}

/**
 * SIEM forwarding on the embedded app, to a local TCP receiver (JSON lines, LF framing):
 * - throughput: N events ingested while the integration is paused, then resumed; the time from the receiver's
 *   first line to its last, against writing the very same lines (the bytes the receiver got) on one raw socket,
 *   timed the same way.
 * - latency: with a steady background of events that do not match, the time from the 2xx of a matching event
 *   to its line arriving at the receiver.
 */
export async function siem(ctx: BenchContext): Promise<Row[]> {
  const n = ctx.full ? 200_000 : 50_000;
  const samples = ctx.full ? 200 : 50;
  const rx = new LineReceiver();
  const port = await rx.listen();
  const dataDir = freshDir(ctx, 'siem');
  const app = await startEmbeddedApp('app-siem', dataDir, { AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8' }, ctx.serviceNodeArgs);
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${app.url}${path}`, {
      method,
      headers: body === undefined ? AUTH_HEADERS : { 'content-type': 'application/json', ...AUTH_HEADERS },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  let forwardMs = 0;
  let rawMs = 0;
  let resumeToFirstMs = 0;
  let rawFirstMs = 0;
  /** The app's CPU from the first line to the last: unlike the rate, it hardly moves with the machine's load. */
  let forwardCpu: CpuSplit = { main: 0, node: 0, engine: 0 };
  const latencies: number[] = [];
  let stopping = false;
  let background: Promise<void> = Promise.resolve();
  try {
    const created = await call('POST', '/audit/integrations', {
      type: 'syslog',
      destination: `127.0.0.1:${port}`,
      transport: 'tcp',
      framing: 'lf',
      format: 'JSON',
      filter: { event_types: ['device_offline'] },
    });
    if (created.status !== 201) throw new Error(`creating the integration answered ${created.status}`);
    const id = ((await created.json()) as { id: string }).id;
    await sleep(500);
    const paused = await call('POST', `/audit/integrations/${id}/pause`);
    if (paused.status !== 200) throw new Error(`pause answered ${paused.status}: ${await paused.text()}`);
    ctx.log(`siem: ${n} events queued while paused, then forwarded`);
    for (let i = 0; i < n; i += 100) {
      const r = await call(
        'POST',
        '/audit/events',
        Array.from({ length: 100 }, (_, k) => ({
          event_type: 'device_offline',
          description: `bench ${i + k}`,
          metadata: { device_id: `POS-${k}` },
        })),
      );
      if (r.status !== 201 && r.status !== 207) throw new Error(`ingest answered ${r.status}`);
    }
    const pid = app.child.proc.pid ?? 0;
    const resumed = Date.now();
    const resumedAnswer = await call('POST', `/audit/integrations/${id}/resume`);
    if (resumedAnswer.status !== 200) throw new Error(`resume answered ${resumedAnswer.status}`);
    if (!(await until(() => rx.lines.length > 0, 300_000))) throw new Error('no line arrived');
    const cpuAtFirst = cpuSplit(pid);
    if (!(await until(() => rx.lines.length >= n, 300_000))) throw new Error(`only ${rx.lines.length} of ${n} lines arrived`);
    forwardCpu = cpuSince(pid, cpuAtFirst);
    // From the first line to the last: the forwarder's own rate. The wait from the resume to the first line is
    // the bus's back-off left over from the paused batches (up to 30 s), reported apart.
    forwardMs = Math.max(1, rx.at[n - 1] - rx.at[0]);
    resumeToFirstMs = rx.at[0] - resumed;

    // The same bytes on one raw socket, to a second receiver.
    const raw = new LineReceiver();
    const rawPort = await raw.listen();
    const payload = Buffer.from(rx.lines.slice(0, n).join('\n') + '\n', 'utf8');
    const started = Date.now();
    const socket = connect(rawPort, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.end(payload);
    await until(() => raw.lines.length >= n, 120_000);
    rawMs = Math.max(1, raw.at[n - 1] - raw.at[0]);
    rawFirstMs = raw.at[0] - started;
    raw.close();

    ctx.log(`siem: latency, ${samples} matching events over ${BACKGROUND_PER_S} background events/s`);
    background = (async () => {
      while (!stopping) {
        await call(
          'POST',
          '/audit/events',
          Array.from({ length: BACKGROUND_PER_S / 10 }, () => ({ event_type: 'api_access' })),
        );
        await sleep(100);
      }
    })();
    for (let i = 0; i < samples; i++) {
      const before = rx.lines.length;
      const r = await call('POST', '/audit/events', { event_type: 'device_offline', description: `latency ${i}` });
      const acked = Date.now();
      if (r.status !== 201) throw new Error(`the sample event answered ${r.status}`);
      const arrived = await until(() => rx.lines.length > before, 10_000);
      latencies.push(arrived ? rx.at[before] - acked : 10_000);
      await sleep(100);
    }
  } finally {
    stopping = true;
    await background;
    await stop(app.child);
    rx.close();
    removeDir(dataDir);
  }
  latencies.sort((a, b) => a - b);
  const pick = (q: number) => percentile(latencies, q * 100);
  const forwardRate = n / (forwardMs / 1000);
  const rawRate = n / (rawMs / 1000);
  const scenario = 'SIEM forwarding';
  return [
    {
      scenario,
      measure: 'TCP forwarding throughput (JSON lines)',
      service: forwardRate,
      limit: rawRate,
      limitIs: 'raw socket write of the same lines',
      unit: 'events/s',
      target: '≥ 0.5 of raw',
      met: forwardRate >= 0.5 * rawRate,
      note: `${n} events queued while paused, first line to last; resume to first line ${resumeToFirstMs} ms (raw: connect to first ${rawFirstMs} ms); app CPU first line to last ${cpuPer1000(forwardCpu.main, n)} ms (JS thread) + ${cpuPer1000(forwardCpu.node, n)} ms (GC, libuv) per 1,000 events`,
    },
    {
      scenario,
      measure: 'event 2xx to receiver, p50',
      service: pick(0.5),
      limit: null,
      limitIs: '',
      unit: 'ms',
      note: `${samples} events, ${BACKGROUND_PER_S} background events/s, embedded`,
    },
    {
      scenario,
      measure: 'event 2xx to receiver, p99',
      service: pick(0.99),
      limit: 2000,
      limitIs: 'target',
      unit: 'ms',
      target: 'p99 < 2 s',
      met: pick(0.99) < 2000,
      note: `${samples} events, ${BACKGROUND_PER_S} background events/s, embedded`,
    },
  ];
}
