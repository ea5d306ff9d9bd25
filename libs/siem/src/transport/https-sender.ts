import * as https from 'node:https';
import { boundRequest, pinnedLookup } from '@app/runtime';
import { DeliveryError, Resolver, SentBatch } from './syslog-sender';

export interface HttpsDestination {
  /** https://host[:port]/path */
  url: string;
  /** The header carrying the token, and its value (`Splunk <token>` for HEC); none when the receiver wants none. */
  auth?: { header: string; value: string };
  /** Events per POST. */
  batchMaxEvents: number;
  tls?: { ca?: string; servername?: string; cert?: string; key?: string };
}

export interface HttpsSenderOptions {
  timeoutMs: number;
  /** Attempts of one POST before the batch fails (and comes again from the log after the bus's back-off). */
  attempts: number;
  /** The first pause between attempts, doubled each time. */
  backoffMs: number;
}

const DEFAULTS: HttpsSenderOptions = { timeoutMs: 10_000, attempts: 3, backoffMs: 250 };
const MAX_ANSWER = 16 * 1024;

/**
 * Posts rendered messages to an HTTPS receiver (Splunk HEC, or any collector taking newline-delimited JSON):
 * bodies of at most `batchMaxEvents` messages, one per line, each POST answered 2xx before the next; a
 * connection error, a timeout, 429 or 5xx is tried again after a back-off, other answers fail at once. The
 * host is resolved through the outbound policy and that address is the one connected to; TLS checks the
 * certificate against the URL's host (or `tls.servername`). No redirect is followed.
 */
export class HttpsSender {
  private readonly options: HttpsSenderOptions;

  constructor(
    private readonly destination: HttpsDestination,
    private readonly resolve: Resolver,
    options: Partial<HttpsSenderOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** The bodies a send of `messages` POSTs, exactly. */
  encode(messages: string[]): { bytes: Buffer[]; truncated: number } {
    const bytes: Buffer[] = [];
    for (let i = 0; i < messages.length; i += this.destination.batchMaxEvents) {
      bytes.push(Buffer.from(messages.slice(i, i + this.destination.batchMaxEvents).join('\n') + '\n', 'utf8'));
    }
    return { bytes, truncated: 0 };
  }

  async send(messages: string[]): Promise<SentBatch> {
    const { bytes } = this.encode(messages);
    for (const body of bytes) await this.post(body);
    return { bytes, truncated: 0, replayed: 0 };
  }

  /** Requests in flight, so that `close` can abandon them (a shutdown need not wait out a silent receiver). */
  private readonly inFlight = new Set<import('node:http').ClientRequest>();
  private closed = false;

  /** One request per POST (agent: false), so nothing stays open; those in flight fail now, their batch waits on the log. */
  async close(): Promise<void> {
    this.closed = true;
    for (const req of this.inFlight) req.destroy(new DeliveryError('the sender was closed', 'connection'));
  }

  private async post(body: Buffer): Promise<void> {
    let last: DeliveryError | undefined;
    for (let attempt = 0; attempt < this.options.attempts; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, this.options.backoffMs * 2 ** (attempt - 1)));
      if (this.closed) throw new DeliveryError('the sender is closed', 'connection');
      const outcome = await this.once(body);
      if (outcome === undefined) return;
      last = outcome.error;
      if (!outcome.retry) break;
    }
    throw last as DeliveryError;
  }

  private async once(body: Buffer): Promise<{ error: DeliveryError; retry: boolean } | undefined> {
    const target = new URL(this.destination.url);
    let pinned: { address: string; family: 4 | 6 };
    try {
      pinned = await this.resolve(target.hostname.replace(/^\[(.*)\]$/, '$1'));
    } catch (e) {
      return { error: new DeliveryError((e as Error).message, 'unresolved'), retry: false };
    }
    const tls = this.destination.tls ?? {};
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'user-agent': 'HOMEPOT-Audit-SIEM/1',
    };
    if (this.destination.auth) headers[this.destination.auth.header] = this.destination.auth.value;
    return new Promise((resolve) => {
      const req = https.request(
        target,
        {
          method: 'POST',
          headers,
          lookup: pinnedLookup(pinned),
          agent: false,
          ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
          ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
          servername: tls.servername ?? target.hostname,
          minVersion: 'TLSv1.2',
        },
        (res) => {
          let answer = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (answer.length < MAX_ANSWER) answer += c;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) resolve(undefined);
            else
              resolve({
                error: new DeliveryError(
                  `HTTP ${status}${status >= 300 && status < 400 ? ' (redirect not followed)' : ''}: ${answer.slice(0, 200)}`,
                  'refused',
                ),
                retry: status === 429 || status >= 500,
              });
          });
          res.on('error', (e) => resolve({ error: new DeliveryError(e.message, 'connection'), retry: true }));
        },
      );
      this.inFlight.add(req);
      req.on('close', () => this.inFlight.delete(req));
      // The whole request's bound (an idle socket's `timeout` would be a weaker copy of it: never first).
      boundRequest(req, this.options.timeoutMs, () => new DeliveryError(`no complete answer in ${this.options.timeoutMs} ms`, 'timeout'));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const error =
          e instanceof DeliveryError
            ? e
            : e.code === 'ECONNREFUSED'
              ? new DeliveryError(`connection refused (${e.message})`, 'refused')
              : /certificate|SSL|TLS/i.test(e.message) || (e.code ?? '').startsWith('ERR_TLS')
                ? new DeliveryError(`TLS: ${e.message}`, 'tls')
                : new DeliveryError(e.message, 'connection');
        resolve({ error, retry: error.reason !== 'tls' && !this.closed });
      });
      req.end(body);
    });
  }
}
