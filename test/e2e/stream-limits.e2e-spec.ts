import { bootApp, eventually, http, TestApp, waitForTotal } from './support/embedded-app';
import { chunkedBody, parseFrames, rawSocket, readFrames, readFramesReady, SseFrame } from './support/sse';

const ADMIN_KEY = 'stream-limits-admin-key-0123456789';
const dataFrames = (frames: SseFrame[]): SseFrame[] => frames.filter((f) => f.event === undefined && f.data !== undefined);

async function metric(url: string, name: string): Promise<number> {
  const text = (await http(`${url}/metrics`)).body as string;
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Opens a stream and keeps it open; resolves with its status once the headers arrived. */
async function openStream(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; close: () => void }> {
  const ac = new AbortController();
  const res = await fetch(`${url}/audit/events/stream`, { headers, signal: ac.signal });
  const body = res.status === 200 ? '' : await res.text();
  return { status: res.status, body, close: () => ac.abort() };
}

describe('GET /audit/events/stream under abuse', () => {
  describe('a client that does not read', () => {
    let app: TestApp;
    const EVENTS = 16_000;

    beforeAll(async () => {
      app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_STREAM_STALL_TIMEOUT_MS: '1500' });
      const pad = 'x'.repeat(1500);
      for (let from = 0; from < EVENTS; from += 2000) {
        const batch = Array.from({ length: 2000 }, (_, i) => ({ event_type: 'job_started', description: pad, metadata: { n: from + i } }));
        expect((await http(`${app.url}/audit/events`, { method: 'POST', json: batch })).status).toBe(201);
      }
      await waitForTotal(app.url, 'event_type=job_started&limit=1', EVENTS, 60_000);
    }, 120_000);

    afterAll(async () => {
      await app.close();
    });

    it('should hold only its socket buffer, drop it with a last event naming where to resume, and resume there', async () => {
      // A 24 MB log from the start to a socket nobody reads: before, the server buffered all of it in memory.
      const socket = await rawSocket(app.url);
      socket.pause();
      socket.write(`GET /audit/events/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nLast-Event-ID: 0:-1\r\n\r\n`);
      await eventually(async () => ((await metric(app.url, 'audit_stream_dropped_total')) >= 1 ? true : undefined), 20_000, 'the drop');

      // Read what reached the client, now, within the grace the server leaves before it closes the socket.
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.resume();
      await closed;
      const { frames } = parseFrames(chunkedBody(Buffer.concat(chunks)));

      const data = dataFrames(frames);
      const last = frames[frames.length - 1];
      expect(last.event).toBe('dropped');
      const dropped = JSON.parse(last.data!);
      expect(dropped.reason).toBe('slow_client');
      expect(dropped.last_event_id).toBe(data[data.length - 1].id);
      expect(last.id).toBe(dropped.last_event_id);
      // What the server kept for it is its socket buffer: a small part of the log reached the client.
      expect(data.length).toBeLessThan(EVENTS / 4);

      const seen = JSON.parse(data[data.length - 1].data!).metadata.n as number;
      const resumed = await readFrames(
        `${app.url}/audit/events/stream`,
        { 'last-event-id': dropped.last_event_id },
        (f) => dataFrames(f).length >= 3,
      );
      expect(
        dataFrames(resumed)
          .slice(0, 3)
          .map((f) => JSON.parse(f.data!).metadata.n),
      ).toEqual([seen + 1, seen + 2, seen + 3]);
    }, 60_000);
  });

  describe('caps, self-audit and positions', () => {
    let app: TestApp;
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };

    beforeAll(async () => {
      app = await bootApp({ AUDIT_BOOTSTRAP_API_KEY: ADMIN_KEY, AUDIT_STREAM_MAX_PER_KEY: '2', AUDIT_STREAM_MAX_TOTAL: '3' });
    });

    afterAll(async () => {
      await app.close();
    });

    beforeEach(async () => {
      // The previous test's streams give their slots back once the server notices they closed.
      await eventually(async () => ((await metric(app.url, 'audit_stream_clients')) === 0 ? true : undefined));
    });

    it('should refuse a stream beyond the per-key cap, then beyond the total, with 429, Retry-After and the error envelope', async () => {
      const a1 = await openStream(app.url);
      const a2 = await openStream(app.url);
      expect(a1.status).toBe(200);
      expect(a2.status).toBe(200);
      const a3 = await fetch(`${app.url}/audit/events/stream`);
      expect(a3.status).toBe(429);
      expect(a3.headers.get('retry-after')).toBe('5');
      const body = (await a3.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('rate_limited');
      expect(body.error.message).toContain('AUDIT_STREAM_MAX_PER_KEY');

      const b1 = await openStream(app.url, auth);
      expect(b1.status).toBe(200);
      const b2 = await openStream(app.url, auth);
      expect(b2.status).toBe(429);
      expect(JSON.parse(b2.body).error.message).toContain('AUDIT_STREAM_MAX_TOTAL');

      // A closed stream gives its slot back.
      a1.close();
      const again = await eventually(async () => {
        const s = await openStream(app.url);
        if (s.status === 200) return s;
        return undefined;
      });
      for (const s of [a2, b1, again]) s.close();
    });

    it("should not deliver the service's own stream-open audits, unless the filter names api_access", async () => {
      const watching = readFramesReady(
        `${app.url}/audit/events/stream`,
        auth,
        (f) => dataFrames(f).some((x) => JSON.parse(x.data!).event_type === 'job_started'),
        20_000,
      );
      const auditing = readFramesReady(
        `${app.url}/audit/events/stream?event_type=api_access`,
        auth,
        (f) => dataFrames(f).length >= 20,
        20_000,
      );
      await Promise.all([watching.ready, auditing.ready]);
      const [watcher, audits] = [watching.frames, auditing.frames];
      for (let i = 0; i < 20; i++) {
        const s = await openStream(app.url);
        expect(s.status).toBe(200);
        s.close();
        await eventually(async () => ((await metric(app.url, 'audit_stream_clients')) <= 2 ? true : undefined));
      }
      await eventually(async () => {
        const r = await http(`${app.url}/audit/events?event_type=api_access&limit=100`);
        const opens = r.body.events.filter((e: { description: string }) => e.description === 'opened the live audit event stream');
        return opens.length >= 22 ? true : undefined;
      });
      expect((await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'job_started' } })).status).toBe(201);

      const seen = dataFrames(await watcher).map((f) => JSON.parse(f.data!).event_type);
      expect(seen.filter((t) => t === 'api_access')).toEqual([]);
      expect(seen).toContain('job_started');
      const opens = dataFrames(await audits).map((f) => JSON.parse(f.data!));
      expect(opens.length).toBeGreaterThanOrEqual(20);
      expect(opens.every((e) => e.event_type === 'api_access')).toBe(true);
    }, 60_000);

    it('should refuse a Last-Event-ID beyond the end of the log with a 400 naming the header', async () => {
      for (const id of ['0:999999', '0:-1,7:0']) {
        const r = await http(`${app.url}/audit/events/stream`, { headers: { 'last-event-id': id } });
        expect(r.status).toBe(400);
        expect(r.body.error.details[0].field).toBe('Last-Event-ID');
      }
      const ok = await openStream(app.url, { 'last-event-id': '0:-1' });
      expect(ok.status).toBe(200);
      ok.close();
    });
  });
});
