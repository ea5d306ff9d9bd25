import { createServer, Server } from 'node:http';
import * as net from 'node:net';
import { AddressInfo } from 'node:net';
import { OutboundPolicy } from '@app/runtime';
import { Mailer, retryDelay, RETRY_DELAYS_MS, sendWebhook } from './delivery';
import { signWebhook } from './core/signing';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe(sendWebhook.name, () => {
  let server: Server;
  let port = 0;
  let answer = 200;
  let hits: Array<Record<string, string | string[] | undefined>> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.push(req.headers);
      req.resume();
      req.on('end', () => res.writeHead(answer, answer === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end('ok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    hits = [];
    answer = 200;
  });

  it('given a loopback receiver not in the allow list, when sent, then it is refused before connecting', async () => {
    const out = await sendWebhook(new OutboundPolicy([]), `http://127.0.0.1:${port}/`, SECRET, 'msg_1', '{}');
    expect(out.ok).toBe(false);
    expect(out.permanent).toBe(true);
    expect(out.error).toMatch(/AUDIT_OUTBOUND_ALLOW/);
    expect(hits).toHaveLength(0);
  });

  it('given a host name that resolves to loopback, when sent without allowing it, then it is refused', async () => {
    const out = await sendWebhook(new OutboundPolicy([]), `http://localhost:${port}/`, SECRET, 'msg_1', '{}');
    expect(out.ok).toBe(false);
    expect(hits).toHaveLength(0);
  });

  it('given an allowed receiver, when sent, then the Standard Webhooks headers verify against the body', async () => {
    const out = await sendWebhook(new OutboundPolicy(['localhost']), `http://localhost:${port}/hook`, SECRET, 'msg_abc', '{"a":1}');
    expect(out.ok).toBe(true);
    const h = hits[0];
    expect(h['webhook-id']).toBe('msg_abc');
    expect(h['webhook-signature']).toBe(signWebhook(SECRET, 'msg_abc', Number(h['webhook-timestamp']), '{"a":1}'));
  });

  it('given a receiver that answers a byte at a time, never finishing, when sent, then it fails at the whole-request bound', async () => {
    const dribbler = createServer((req, res) => {
      req.resume();
      res.writeHead(200);
      const drip = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(drip));
    });
    await new Promise<void>((r) => dribbler.listen(0, '127.0.0.1', () => r()));
    try {
      const at = (dribbler.address() as AddressInfo).port;
      // an idle timeout alone (400 ms) never fires: a byte comes every 50 ms
      const out = await sendWebhook(new OutboundPolicy(['127.0.0.0/8']), `http://127.0.0.1:${at}/`, SECRET, 'msg_1', '{}', 400);
      expect([out.ok, out.permanent, out.error]).toEqual([false, false, 'no complete answer in 0.4 s']);
    } finally {
      dribbler.closeAllConnections();
      await new Promise<void>((r) => dribbler.close(() => r()));
    }
  });

  it('given a redirect, when sent, then it is a failure and not followed', async () => {
    answer = 302;
    const out = await sendWebhook(new OutboundPolicy(['127.0.0.0/8']), `http://127.0.0.1:${port}/`, SECRET, 'msg_1', '{}');
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/redirect/);
    expect(hits).toHaveLength(1);
  });

  it('given 410 Gone, when sent, then retrying stops; given 503, it does not', async () => {
    answer = 410;
    expect((await sendWebhook(new OutboundPolicy(['127.0.0.0/8']), `http://127.0.0.1:${port}/`, SECRET, 'm', '{}')).permanent).toBe(true);
    answer = 503;
    const out = await sendWebhook(new OutboundPolicy(['127.0.0.0/8']), `http://127.0.0.1:${port}/`, SECRET, 'm', '{}');
    expect(out.ok).toBe(false);
    expect(out.permanent).toBe(false);
  });
});

describe(Mailer.name, () => {
  it('given an SMTP server that accepts and never greets, when a mail is sent, then the attempt fails at the greeting bound', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => void sockets.push(socket.on('error', () => undefined)));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const mailer = new Mailer(`smtp://127.0.0.1:${(silent.address() as AddressInfo).port}`, 'audit@example.com', {
      connectionTimeout: 300,
      greetingTimeout: 300,
      socketTimeout: 300,
    });
    try {
      const out = await mailer.send(['soc@example.com'], 'alert', 'text', 'a1');
      expect([out.ok, out.permanent]).toEqual([false, false]);
      expect(out.error).toMatch(/greeting/i);
      expect(sockets).toHaveLength(1);
    } finally {
      mailer.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
    // (nodemailer's own greeting bound is 30 s: without these bounds this test runs out of its 10 s.)
  }, 10_000);
});

describe(retryDelay.name, () => {
  it('given each attempt, when delayed, then the schedule grows and ends', () => {
    expect(retryDelay(1, () => 0)).toBe(RETRY_DELAYS_MS[0]);
    expect(retryDelay(2, () => 1)).toBe(RETRY_DELAYS_MS[1] * 1.2);
    expect(retryDelay(RETRY_DELAYS_MS.length + 1)).toBeUndefined();
  });
});
