import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  verified: boolean;
}

/** A webhook receiver that checks the Standard Webhooks signature with the secret the API showed once. */
export class Receiver {
  readonly received: Received[] = [];
  secret = '';
  status = 200;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const id = String(req.headers['webhook-id']);
        const ts = String(req.headers['webhook-timestamp']);
        const key = Buffer.from(this.secret.replace(/^whsec_/, ''), 'base64');
        const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64'));
        const verified = String(req.headers['webhook-signature'] ?? '')
          .split(' ')
          .some((s) => {
            const got = Buffer.from(s.replace(/^v1,/, ''));
            return s.startsWith('v1,') && got.length === expected.length && timingSafeEqual(got, expected);
          });
        this.received.push({ headers: req.headers, body, verified });
        res.writeHead(this.status, { 'content-type': 'application/json' }).end('{"received":true}');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}
