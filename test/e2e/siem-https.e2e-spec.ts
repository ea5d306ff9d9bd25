import { IncomingMessage } from 'node:http';
import * as https from 'node:https';
import type { AuditEvent } from '@app/contracts';
import { renderHec } from '@app/siem';
import { makeTestPki, TestPki } from '../../libs/siem/src/transport/test-receivers';
import { bootApp, eventually, http, TestApp } from './support/embedded-app';
import { freePort } from './support/rsyslog';

/** A Splunk-HEC-like receiver: a Node https server with a certificate from a CA made in the test. */
class HecReceiver {
  readonly requests: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  private server?: https.Server;

  constructor(
    private readonly pki: TestPki,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const server = https.createServer({ cert: this.pki.cert, key: this.pki.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        if (req.headers.authorization !== 'Splunk hec-token-e2e') {
          res.writeHead(401).end('{"text":"Invalid token","code":4}');
          return;
        }
        this.requests.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"Success","code":0}');
      });
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  lines(): string[] {
    return this.requests.flatMap((r) => r.body.split('\n').filter((l) => l !== ''));
  }
}

describe('SIEM HTTPS (HEC) destination (embedded app)', () => {
  let app: TestApp;
  let pki: TestPki;
  let rx: HecReceiver;

  beforeAll(async () => {
    pki = makeTestPki();
    rx = new HecReceiver(pki, await freePort());
    await rx.start();
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8,localhost' });
  }, 90_000);

  afterAll(async () => {
    await rx?.stop();
    await app?.close();
  });

  const post = async (event: Record<string, unknown>): Promise<AuditEvent> => {
    const r = await http(`${app.url}/audit/events`, { method: 'POST', json: event });
    expect(r.status).toBe(201);
    const { status: _status, ...stored } = r.body as AuditEvent & { status: string };
    return stored;
  };

  it('should post HEC envelopes with the token, exactly, and lose nothing while the receiver is down', async () => {
    const created = await http(`${app.url}/audit/integrations`, {
      method: 'POST',
      json: {
        type: 'hec',
        destination: `https://localhost:${rx.port}/services/collector/event`,
        token: 'hec-token-e2e',
        tls: { ca: pki.ca },
        batch_max_events: 3,
        filter: { event_type: 'device_offline', 'metadata.site_id': 'S1' },
      },
    });
    expect(created.status).toBe(201);
    const view = created.body as { id: string; token: string; format: string };
    expect(view.token).toBe('[redacted]');
    expect(view.format).toBe('HEC');

    const sent: AuditEvent[] = [];
    for (let i = 0; i < 4; i++)
      sent.push(await post({ event_type: 'device_offline', description: `probe ${i}`, metadata: { site_id: 'S1', i } }));
    // Filtered out: another site, another type.
    await post({ event_type: 'device_offline', description: 'other site', metadata: { site_id: 'S2' } });
    await post({ event_type: 'login_failed', description: 'other type', metadata: { site_id: 'S1' } });
    await eventually(async () => (rx.lines().length >= 4 ? true : undefined), 20_000, '4 HEC lines');
    expect(rx.lines()).toEqual(sent.map((e) => renderHec(e, 'homepot-audit')));
    expect(rx.requests.every((r) => r.headers['content-type'] === 'application/json')).toBe(true);
    // batch_max_events 3: no body carries more than three events.
    expect(Math.max(...rx.requests.map((r) => r.body.split('\n').length - 1))).toBeLessThanOrEqual(3);

    await rx.stop();
    for (let i = 4; i < 9; i++)
      sent.push(await post({ event_type: 'device_offline', description: `probe ${i}`, metadata: { site_id: 'S1', i } }));
    const down = await eventually(
      async () => {
        const r = await http(`${app.url}/audit/integrations/${view.id}`);
        const h = (r.body as { health: { state: string; failed: number; last_error: string | null } }).health;
        // Between two tries the state is unreachable; during one (the sender tries three times) it is delivering.
        return h.failed > 0 && h.state === 'unreachable' ? h : undefined;
      },
      30_000,
      'a failed delivery, between tries',
    );
    expect(down.state).toBe('unreachable');
    expect(down.last_error).toMatch(/refused|ECONNREFUSED/);

    await rx.start();
    await eventually(async () => (new Set(rx.lines()).size >= 9 ? true : undefined), 60_000, '9 distinct HEC lines');
    // At least once: every event arrived, in order, each exactly as rendered (a receiver dedupes on event.id).
    const distinct = [...new Set(rx.lines())];
    expect(distinct).toEqual(sent.map((e) => renderHec(e, 'homepot-audit')));
    const ids = distinct.map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
    expect(ids).toEqual(sent.map((e) => e.id));
    expect(app.output()).not.toContain('hec-token-e2e');
  }, 120_000);
});
