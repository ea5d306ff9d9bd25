import * as net from 'node:net';
import { DeliveryError, SyslogDestination, SyslogSender } from './syslog-sender';
import { DatagramReceiver, makeTestPki, octetCountedMessages, StreamReceiver, TestPki, until } from './test-receivers';

const loopback = async (): Promise<{ address: string; family: 4 }> => ({ address: '127.0.0.1', family: 4 });
const destination = (over: Partial<SyslogDestination>): SyslogDestination => ({
  transport: 'tcp',
  host: '127.0.0.1',
  port: 1,
  framing: 'octet-counting',
  maxDatagramBytes: 2048,
  ...over,
});

describe(SyslogSender.name, () => {
  const senders: SyslogSender[] = [];
  const sender = (d: SyslogDestination, options = {}): SyslogSender => {
    const s = new SyslogSender(d, loopback, { connectTimeoutMs: 2_000, ...options });
    senders.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(senders.splice(0).map((s) => s.close()));
  });

  it('should write octet-counted frames on TCP, byte for byte', async () => {
    const rx = new StreamReceiver();
    await rx.start();
    const s = sender(destination({ port: rx.port }));
    const sent = await s.send(['<110>1 - - - - - - one', 'two é']);
    await until(() => rx.bytes().length === 33);
    expect(rx.bytes().toString()).toBe('22 <110>1 - - - - - - one6 two é');
    expect(Buffer.concat(sent.bytes).equals(rx.bytes())).toBe(true);
    await rx.stop();
  });

  it('should abandon a connection being opened when closed, so a shutdown does not wait for a silent receiver', async () => {
    // A TCP server that accepts and says nothing: the TLS handshake never completes.
    const accepted: net.Socket[] = [];
    const silent = net.createServer((socket) => accepted.push(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const s = sender(destination({ transport: 'tls', port: (silent.address() as net.AddressInfo).port, tls: { ca: makeTestPki().ca } }), {
      connectTimeoutMs: 30_000,
    });
    const sending = s.send(['x']);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await s.close();
    await expect(sending).rejects.toBeInstanceOf(DeliveryError);
    expect(Date.now() - t0).toBeLessThan(2_000);
    await expect(s.send(['y'])).rejects.toThrow(/closed/);
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('should write LF-terminated messages when LF framing is chosen', async () => {
    const rx = new StreamReceiver();
    await rx.start();
    await sender(destination({ port: rx.port, framing: 'lf' })).send(['a', 'b']);
    await until(() => rx.bytes().length === 4);
    expect(rx.bytes().toString()).toBe('a\nb\n');
    await rx.stop();
  });

  it('should send one datagram per message on UDP, truncating past maxDatagramBytes', async () => {
    const rx = new DatagramReceiver();
    await rx.start();
    const sent = await sender(destination({ transport: 'udp', port: rx.port, maxDatagramBytes: 5 })).send(['abc', '0123456789']);
    await until(() => rx.datagrams.length === 2);
    expect(rx.datagrams.map((d) => d.toString())).toEqual(['abc', '01234']);
    expect(sent.truncated).toBe(1);
    await rx.stop();
  });

  it('should throw a DeliveryError naming the refusal when nothing listens', async () => {
    const rx = new StreamReceiver();
    await rx.start();
    await rx.stop();
    await expect(sender(destination({ port: rx.port })).send(['x'])).rejects.toMatchObject({ reason: 'refused' });
  });

  it('should report a host that does not resolve as unresolved', async () => {
    const s = new SyslogSender(destination({ host: 'siem.invalid' }), () => Promise.reject(new Error('siem.invalid does not resolve')));
    const error = await s.send(['x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).reason).toBe('unresolved');
  });

  it("given the receiver stops mid-stream and comes back, every message should arrive (the closed connection's recent frames written again)", async () => {
    const rx = new StreamReceiver();
    await rx.start();
    const s = sender(destination({ port: rx.port }), { replayWindowMs: 60_000 });
    await s.send(['first']);
    await until(() => rx.bytes().length > 0);
    const port = rx.port;
    await rx.stop();
    // The write may land in the kernel before the RST is seen (it resolves, and is replayed later) or fail (the
    // caller retries it): either way it must arrive.
    const second = await s.send(['second']).then(
      () => 'written',
      (e: unknown) => (e instanceof DeliveryError ? 'failed' : 'other'),
    );
    expect(['written', 'failed']).toContain(second);
    const back = new StreamReceiver();
    await back.start(port);
    let sent = await s.send(second === 'failed' ? ['second', 'third'] : ['third']).catch(() => undefined);
    for (let i = 0; !sent && i < 20; i++) sent = await s.send(second === 'failed' ? ['second', 'third'] : ['third']).catch(() => undefined);
    expect(sent).toBeDefined();
    expect(sent!.replayed).toBeGreaterThanOrEqual(1);
    await until(() => back.bytes().toString().includes('5 third'));
    const frames = octetCountedMessages(back.bytes());
    expect(frames).toContain('first');
    expect(frames).toContain('second');
    expect(frames[frames.length - 1]).toBe('third');
    await back.stop();
  });

  describe('TLS (RFC 5425)', () => {
    let pki: TestPki;
    beforeAll(() => {
      pki = makeTestPki();
    });

    it('should connect with the CA bundle and check the server name', async () => {
      const rx = new StreamReceiver({ cert: pki.cert, key: pki.key });
      await rx.start();
      await sender(destination({ transport: 'tls', host: 'localhost', port: rx.port, tls: { ca: pki.ca } })).send(['secure']);
      await until(() => rx.bytes().length === 8);
      expect(rx.bytes().toString()).toBe('6 secure');
      await rx.stop();
    });

    it('should refuse a receiver whose certificate does not carry the expected name', async () => {
      const rx = new StreamReceiver({ cert: pki.cert, key: pki.key });
      await rx.start();
      const s = sender(
        destination({ transport: 'tls', host: 'localhost', port: rx.port, tls: { ca: pki.ca, servername: 'siem.example.com' } }),
      );
      await expect(s.send(['x'])).rejects.toMatchObject({ reason: 'tls' });
      await rx.stop();
    });

    it('should refuse a receiver not signed by the CA bundle', async () => {
      const rx = new StreamReceiver({ cert: pki.cert, key: pki.key });
      await rx.start();
      await expect(sender(destination({ transport: 'tls', host: 'localhost', port: rx.port })).send(['x'])).rejects.toMatchObject({
        reason: 'tls',
      });
      await rx.stop();
    });
  });
});
