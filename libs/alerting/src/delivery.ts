import * as http from 'node:http';
import * as https from 'node:https';
import { createTransport, Transporter } from 'nodemailer';
import { boundRequest, isTransientLookupFailure, OutboundPolicy, pinnedLookup } from '@app/runtime';
import { signWebhook } from './core/signing';

export interface SendOutcome {
  ok: boolean;
  /** Stop retrying (410 Gone, a refused address, a rejected recipient). */
  permanent: boolean;
  status?: number;
  error?: string;
  ms: number;
  /** What was sent, for POST /audit/alerts/:id/test (the signature shown, never the secret). */
  request: { url?: string; to?: string[]; headers?: Record<string, string>; body: string };
  response?: { status: number; body: string };
}

const TIMEOUT_MS = 15_000;
/** Connecting, the server's greeting, and a connection's silence, before a mail's attempt fails. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * One Standard Webhooks delivery: signed `webhook-id` / `webhook-timestamp` / `webhook-signature`, the host
 * resolved once through the outbound policy and that address connected to (a DNS answer cannot change between
 * the check and the connection), no redirects followed (3xx is a failure), the answer read up to 64 KiB.
 */
export async function sendWebhook(
  policy: OutboundPolicy,
  url: string,
  secret: string,
  id: string,
  body: string,
  timeoutMs = TIMEOUT_MS,
): Promise<SendOutcome> {
  const started = Date.now();
  const timestamp = Math.floor(started / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'HOMEPOT-Audit-Alerts/1',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
  const request = { url, headers, body };
  let target: URL;
  let pinned: { address: string; family: 4 | 6 };
  try {
    target = new URL(url);
    pinned = await policy.resolve(target.hostname, 'notification.webhook');
  } catch (e) {
    // A refused address or a name that does not exist stays so; a resolver that did not answer may next time.
    return { ok: false, permanent: !isTransientLookupFailure(e), error: (e as Error).message, ms: Date.now() - started, request };
  }
  const lookup = pinnedLookup(pinned);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<SendOutcome>((resolve) => {
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(c.subarray(0, MAX_RESPONSE_BYTES - size));
          size += c.length;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          const ok = status >= 200 && status < 300;
          resolve({
            ok,
            permanent: status === 410,
            status,
            error: ok ? undefined : status >= 300 && status < 400 ? `redirect (${status}) not followed: update the URL` : `HTTP ${status}`,
            ms: Date.now() - started,
            request,
            response: { status, body: text },
          });
        });
        res.on('error', (e) => resolve({ ok: false, permanent: false, error: e.message, ms: Date.now() - started, request }));
      },
    );
    // The whole request's bound (an idle socket's `timeout` would be a weaker copy of it: never first).
    boundRequest(req, timeoutMs, () => new Error(`no complete answer in ${timeoutMs / 1000} s`));
    req.on('error', (e) => resolve({ ok: false, permanent: false, error: e.message, ms: Date.now() - started, request }));
    req.end(body);
  });
}

/** E-mail over AUDIT_SMTP_URL (nodemailer); without it, `available` is false and nothing is sent. */
export class Mailer {
  private readonly transport?: Transporter;

  constructor(
    smtpUrl: string | undefined,
    private readonly from: string,
    timeouts: typeof SMTP_TIMEOUTS = SMTP_TIMEOUTS,
  ) {
    // A connection per mail (the options with the URL; a second argument would be message defaults, which is
    // where an earlier `{ pool: true }` went, unused). nodemailer waits up to 2 min to connect and 10 min of
    // silence by default: far past the delivery claim's one-minute lease, so a hung SMTP server would let
    // another replica send the same mail meanwhile.
    if (smtpUrl) this.transport = createTransport({ url: smtpUrl, ...timeouts });
  }

  get available(): boolean {
    return this.transport !== undefined;
  }

  async send(to: string[], subject: string, text: string, alertId: string): Promise<SendOutcome> {
    const started = Date.now();
    const request = { to, body: text };
    if (!this.transport)
      return { ok: false, permanent: true, error: 'AUDIT_SMTP_URL is not set: e-mail cannot be delivered', ms: 0, request };
    try {
      // Subject and headers come from the rule name (validated: no CR/LF) and ids; nodemailer encodes them.
      const info = await this.transport.sendMail({ from: this.from, to, subject, text, headers: { 'X-Homepot-Alert-Id': alertId } });
      return {
        ok: true,
        permanent: false,
        ms: Date.now() - started,
        request,
        response: { status: 250, body: String(info.response ?? '') },
      };
    } catch (e) {
      const code = (e as { responseCode?: number }).responseCode;
      return {
        ok: false,
        permanent: code !== undefined && code >= 500,
        status: code,
        error: (e as Error).message,
        ms: Date.now() - started,
        request,
      };
    }
  }

  close(): void {
    this.transport?.close();
  }
}

/** Retry delays after each failed attempt (Standard Webhooks' schedule, shortened: about 3 h in all). */
export const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000];

/** With up to 20 % jitter so receivers coming back are not hit by every retry at once. */
export function retryDelay(attempt: number, random = Math.random): number | undefined {
  const base = RETRY_DELAYS_MS[attempt - 1];
  return base === undefined ? undefined : Math.round(base * (1 + 0.2 * random()));
}
