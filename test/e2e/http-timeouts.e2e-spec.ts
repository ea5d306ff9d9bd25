import { Socket } from 'node:net';
import { bootApp, http, TestApp } from './support/embedded-app';
import { rawSocket, readFrames } from './support/sse';

/** Everything the server sends until it closes the connection, or what arrived by `timeoutMs`. */
function untilClosed(socket: Socket, timeoutMs: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    const timer = setTimeout(() => resolve({ text, closed: false }), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

describe('HTTP request timeouts', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_HTTP_REQUEST_TIMEOUT_MS: '1500', AUDIT_HTTP_HEADERS_TIMEOUT_MS: '1000' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should answer 408 and close a connection whose headers never finish', async () => {
    const socket = await rawSocket(app.url);
    socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
    const r = await untilClosed(socket, 10_000);
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('should answer 408 and close a connection whose body trickles', async () => {
    const socket = await rawSocket(app.url);
    socket.write('POST /audit/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{');
    const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
    const r = await untilClosed(socket, 10_000);
    clearInterval(trickle);
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('should not cut a live stream that lasts longer than the request timeout', async () => {
    const frames = readFrames(
      `${app.url}/audit/events/stream?event_type=job_started`,
      {},
      (f) => f.some((x) => x.data?.includes('late')),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 4000));
    expect(
      (await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'job_started', description: 'late' } })).status,
    ).toBe(201);
    const got = await frames;
    expect(got[0].event).toBe('ready');
    expect(got.filter((f) => f.data?.includes('"late"')).length).toBe(1);
  }, 30_000);
});
