import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { datagram, frame, frameAll, Framing } from '../core/framing';

export const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** RFC 5425 TLS settings: PEM text, never file paths, so the gateway and the forwarder need no shared disk. */
export interface TlsSettings {
  /** The CA bundle the receiver's certificate must chain to; the system store when absent. */
  ca?: string;
  /** An optional client certificate and its key, for receivers that authenticate senders. */
  cert?: string;
  key?: string;
  /** The name the receiver's certificate must carry; the destination's host name by default. */
  servername?: string;
}

export interface SyslogDestination {
  transport: Transport;
  host: string;
  port: number;
  /** For tcp and tls; UDP carries one message per datagram and needs none. */
  framing: Framing;
  /** For udp: a longer message is truncated (see `datagram`). */
  maxDatagramBytes: number;
  tls?: TlsSettings;
}

/** Where to connect: the OutboundPolicy's answer for the host (checked, and pinned for this connection). */
export type Resolver = (host: string) => Promise<{ address: string; family: 4 | 6 }>;

/** What one send put on the wire, and how many messages were truncated. */
export interface SentBatch {
  /** The bytes exactly as written, in order: one buffer per datagram or HTTP message, one per stream write. */
  bytes: Buffer[];
  truncated: number;
  /** Earlier writes (a batch each) written again after a reconnection, because the connection that carried them closed too soon. */
  replayed: number;
}

/** The receiver could not be reached or the connection failed; the stable reason goes in the health. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly reason: 'unresolved' | 'refused' | 'connection' | 'timeout' | 'tls',
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface SenderOptions {
  connectTimeoutMs: number;
  /**
   * Frames written less than this long before the connection closed are written again on the next connection.
   * A stream write completes once the kernel holds the bytes, not when the receiver has read them: a receiver
   * that stops with unread data in its socket loses them and we only learn it from the FIN or RST. Sending those
   * again gives at least once for a receiver that stops or restarts (duplicates carry the same event id, which a
   * receiver dedupes on). A silent network partition with no FIN or RST is beyond what syslog can detect; RELP
   * or an HTTP destination with acknowledgements would be the answer there.
   */
  replayWindowMs: number;
  now?: () => number;
}

const DEFAULT_OPTIONS: SenderOptions = { connectTimeoutMs: 5_000, replayWindowMs: 2_000 };

function classify(e: unknown): DeliveryError {
  if (e instanceof DeliveryError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return new DeliveryError(`connection refused (${err.message})`, 'refused');
  if (code.startsWith('ERR_TLS') || /certificate|SSL|TLS/i.test(err.message)) return new DeliveryError(`TLS: ${err.message}`, 'tls');
  return new DeliveryError(err.message || String(e), 'connection');
}

/**
 * Sends rendered messages to one syslog receiver over UDP (RFC 5426), TCP (RFC 6587) or TLS (RFC 5425). One
 * connection, opened on the first send and again after a failure; a failed send throws a DeliveryError and the
 * caller retries the whole batch (the messages carry the event id, so a receiver can drop a duplicate).
 */
export class SyslogSender {
  private socket?: net.Socket;
  private udp?: dgram.Socket;
  private connecting?: Promise<net.Socket>;
  /** The socket of a connection being opened, so that `close` can abandon it (a shutdown need not wait it out). */
  private opening?: net.Socket;
  private closed = false;
  /** What went on the current connection recently: [written at, the bytes of one write]. */
  private recent: Array<[number, Buffer]> = [];
  /** Writes to make first on the next connection (see SenderOptions.replayWindowMs). */
  private pendingReplay: Buffer[] = [];
  private readonly options: SenderOptions;
  private readonly now: () => number;

  constructor(
    readonly destination: SyslogDestination,
    private readonly resolve: Resolver,
    options: Partial<SenderOptions> = {},
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
    this.now = this.options.now ?? Date.now;
  }

  /** The bytes `messages` become on this destination, without sending them. */
  encode(messages: string[]): { bytes: Buffer[]; truncated: number } {
    if (this.destination.transport === 'udp') {
      let truncated = 0;
      const bytes = messages.map((m) => {
        const d = datagram(m, this.destination.maxDatagramBytes);
        if (d.truncated) truncated++;
        return d.bytes;
      });
      return { bytes, truncated };
    }
    return { bytes: messages.map((m) => frame(m, this.destination.framing)), truncated: 0 };
  }

  async send(messages: string[]): Promise<SentBatch> {
    if (this.destination.transport === 'udp') {
      const { bytes, truncated } = this.encode(messages);
      await this.sendDatagrams(bytes);
      return { bytes, truncated, replayed: 0 };
    }
    // One buffer for the whole batch: one write, and one entry in the replay window.
    const chunk = frameAll(messages, this.destination.framing);
    const socket = await this.connected();
    const replay = this.pendingReplay;
    this.pendingReplay = [];
    const out = replay.length === 0 ? chunk : Buffer.concat([...replay, chunk]);
    try {
      await write(socket, out);
    } catch (e) {
      this.drop(socket);
      this.pendingReplay = [...replay, ...this.pendingReplay];
      throw classify(e);
    }
    const at = this.now();
    this.recent.push([at, out]);
    this.forgetOlderThan(at - this.options.replayWindowMs);
    return { bytes: [chunk], truncated: 0, replayed: replay.length };
  }

  /**
   * Ends the connection after what was written, and abandons one being opened (its send fails at once with
   * a DeliveryError, so the batch stays on the log): a shutdown or a changed integration does not wait for a
   * receiver that does not answer. The sender is not used again.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.opening?.destroy(new DeliveryError('the sender was closed while connecting', 'connection'));
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((r) => s.end(() => r()));
    const u = this.udp;
    this.udp = undefined;
    if (u) await new Promise<void>((r) => u.close(() => r()));
  }

  private forgetOlderThan(t: number): void {
    let i = 0;
    while (i < this.recent.length && this.recent[i][0] < t) i++;
    if (i > 0) this.recent.splice(0, i);
  }

  /** The connection closed: what it carried in the replay window goes again on the next one. */
  private drop(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.forgetOlderThan(this.now() - this.options.replayWindowMs);
    this.pendingReplay = [...this.pendingReplay, ...this.recent.map(([, b]) => b)];
    this.recent = [];
    socket.destroy();
  }

  private async connected(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed && this.socket.writable) return this.socket;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<net.Socket> {
    if (this.closed) throw new DeliveryError('the sender is closed', 'connection');
    const { host, port, transport } = this.destination;
    let target: { address: string };
    try {
      target = await this.resolve(host);
    } catch (e) {
      throw new DeliveryError((e as Error).message, 'unresolved');
    }
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s =
        transport === 'tls'
          ? tls.connect({
              host: target.address,
              port,
              servername: this.destination.tls?.servername ?? (net.isIP(host) ? undefined : host),
              ca: this.destination.tls?.ca,
              cert: this.destination.tls?.cert,
              key: this.destination.tls?.key,
              // RFC 5425 §4.2 requires TLS 1.2; nothing older is offered.
              minVersion: 'TLSv1.2',
            })
          : net.connect({ host: target.address, port });
      this.opening = s;
      const timer = setTimeout(() => {
        s.destroy();
        reject(new DeliveryError(`no connection to ${host}:${port} within ${this.options.connectTimeoutMs} ms`, 'timeout'));
      }, this.options.connectTimeoutMs);
      s.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        s.destroy();
        reject(classify(e));
      });
    }).finally(() => (this.opening = undefined));
    if (this.closed) {
      socket.destroy();
      throw new DeliveryError('the sender was closed while connecting', 'connection');
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // A receiver never writes to a syslog sender: whatever arrives is discarded; its FIN or RST ends the connection.
    socket.on('data', () => undefined);
    socket.on('error', () => this.drop(socket));
    socket.on('end', () => this.drop(socket));
    socket.on('close', () => this.drop(socket));
    this.socket = socket;
    return socket;
  }

  private async sendDatagrams(bytes: Buffer[]): Promise<void> {
    if (!this.udp) {
      let target: { address: string; family: 4 | 6 };
      try {
        target = await this.resolve(this.destination.host);
      } catch (e) {
        throw new DeliveryError((e as Error).message, 'unresolved');
      }
      const u = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
      u.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        u.once('error', reject);
        u.connect(this.destination.port, target.address, () => {
          u.removeListener('error', reject);
          resolve();
        });
      });
      this.udp = u;
    }
    const u = this.udp;
    for (const b of bytes) {
      await new Promise<void>((resolve, reject) =>
        u.send(b, (e) => {
          if (e) reject(classify(e));
          else resolve();
        }),
      ).catch((e: unknown) => {
        // A connected UDP socket reports an ICMP port unreachable on a later send; open a new one next time.
        this.udp = undefined;
        u.close();
        throw e;
      });
    }
  }
}

function write(socket: net.Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!socket.writable) {
      reject(new DeliveryError('the connection closed', 'connection'));
      return;
    }
    socket.write(bytes, (e) => (e ? reject(e) : resolve()));
  });
}
