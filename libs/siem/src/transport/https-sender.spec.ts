import { IncomingMessage } from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { AddressInfo } from 'node:net';
import { makeTestPki, TestPki } from './test-receivers';
import { HttpsSender } from './https-sender';

const local = async (): Promise<{ address: string; family: 4 | 6 }> => ({ address: '127.0.0.1', family: 4 });

describe(HttpsSender.name, () => {
  let pki: TestPki;
  let server: https.Server;
  let port: number;
  const seen: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  let answers: number[] = [];

  beforeAll(async () => {
    pki = makeTestPki();
    server = https.createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(answers.shift() ?? 200, { 'content-type': 'application/json' });
        res.end('{"text":"Success","code":0}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen.length = 0;
    answers = [];
  });

  const sender = (batchMaxEvents = 2) =>
    new HttpsSender(
      {
        url: `https://localhost:${port}/services/collector/event`,
        auth: { header: 'Authorization', value: 'Splunk t0k' },
        batchMaxEvents,
        tls: { ca: pki.ca },
      },
      local,
      { backoffMs: 10 },
    );

  it('should post batches of lines with the token header, exactly the encoded bodies', async () => {
    const s = sender();
    const sent = await s.send(['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(seen.map((x) => x.body)).toEqual(['{"a":1}\n{"b":2}\n', '{"c":3}\n']);
    expect(sent.bytes.map((b) => b.toString())).toEqual(seen.map((x) => x.body));
    expect(seen[0].headers.authorization).toBe('Splunk t0k');
    expect(seen[0].headers['content-type']).toBe('application/json');
  });

  it('should try a 503 again after a back-off and succeed', async () => {
    answers = [503, 200];
    await sender().send(['{"a":1}']);
    expect(seen).toHaveLength(2);
  });

  it('should fail at once on a 403 and after its attempts on 500s', async () => {
    answers = [403];
    await expect(sender().send(['x'])).rejects.toThrow('HTTP 403');
    expect(seen).toHaveLength(1);
    seen.length = 0;
    answers = [500, 500, 500];
    await expect(sender().send(['x'])).rejects.toThrow('HTTP 500');
    expect(seen).toHaveLength(3);
  });

  it('should refuse a certificate that does not chain to the CA given', async () => {
    const s = new HttpsSender({ url: `https://localhost:${port}/x`, batchMaxEvents: 10, tls: { ca: makeTestPki().ca } }, local, {
      backoffMs: 1,
    });
    await expect(s.send(['x'])).rejects.toMatchObject({ reason: 'tls' });
    expect(seen).toHaveLength(0);
  });

  it('should give up a request in flight when closed, without waiting for a receiver that never answers', async () => {
    // A TCP server that accepts and says nothing: the TLS handshake never completes.
    const accepted: net.Socket[] = [];
    const silent = net.createServer((socket) => accepted.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const s = new HttpsSender(
      { url: `https://localhost:${(silent.address() as AddressInfo).port}/x`, batchMaxEvents: 10, tls: { ca: pki.ca } },
      local,
      { timeoutMs: 30_000, attempts: 3, backoffMs: 1 },
    );
    const sending = s.send(['x']);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await s.close();
    await expect(sending).rejects.toMatchObject({ reason: 'connection', message: expect.stringMatching(/closed/) });
    expect(Date.now() - t0).toBeLessThan(2_000);
    await expect(s.send(['y'])).rejects.toThrow(/closed/);
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('should cut a receiver that answers a byte at a time, never finishing, at the whole-request bound', async () => {
    const dribbler = https.createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
      req.resume();
      res.writeHead(200);
      const drip = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => dribbler.listen(0, '127.0.0.1', () => r()));
    try {
      const s = new HttpsSender(
        { url: `https://localhost:${(dribbler.address() as AddressInfo).port}/x`, batchMaxEvents: 10, tls: { ca: pki.ca } },
        local,
        // an idle timeout alone (400 ms) never fires: a byte comes every 50 ms
        { timeoutMs: 400, attempts: 1, backoffMs: 1 },
      );
      await expect(s.send(['x'])).rejects.toMatchObject({ reason: 'timeout', message: 'no complete answer in 400 ms' });
    } finally {
      dribbler.closeAllConnections();
      await new Promise<void>((r) => dribbler.close(() => r()));
    }
  });

  it('should report a refused connection as such', async () => {
    const s = new HttpsSender({ url: 'https://localhost:1/x', batchMaxEvents: 10, tls: { ca: pki.ca } }, local, {
      backoffMs: 1,
      attempts: 1,
    });
    await expect(s.send(['x'])).rejects.toMatchObject({ reason: 'refused' });
  });
});
