import { bootApp, http, TestApp } from './support/embedded-app';

interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
}

/** Reads SSE frames from a stream until `count` data frames arrived (or the time runs out). */
async function readFrames(url: string, headers: Record<string, string>, count: number, timeoutMs = 10_000): Promise<SseFrame[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  const frames: SseFrame[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const raw = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: SseFrame = {};
        for (const line of raw.split('\n')) {
          const m = /^(id|event|data): ?(.*)$/.exec(line);
          if (m) f[m[1] as keyof SseFrame] = m[2];
        }
        if (f.id || f.data) frames.push(f);
        if (frames.filter((x) => x.event === undefined && x.data).length >= count) {
          ac.abort();
          return frames;
        }
      }
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  return frames;
}

describe('GET /audit/events/stream', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should send matching new events, then resume from Last-Event-ID without gaps or repeats', async () => {
    const first = readFrames(`${app.url}/audit/events/stream?category=job_management`, {}, 3);
    await new Promise((r) => setTimeout(r, 300));
    const batch = (from: number, n: number): unknown[] =>
      Array.from({ length: n }, (_, i) => [
        { event_type: 'job_started', metadata: { n: from + i } },
        { event_type: 'login_success', metadata: { n: from + i } },
      ]).flat();
    expect((await http(`${app.url}/audit/events`, { method: 'POST', json: batch(0, 3) })).status).toBe(201);
    const frames = await first;
    expect(frames[0].event).toBe('ready');
    const data = frames.filter((f) => f.event === undefined);
    expect(data.map((f) => JSON.parse(f.data!).metadata.n)).toEqual([0, 1, 2]);
    expect(data.every((f) => JSON.parse(f.data!).category === 'job_management')).toBe(true);

    // Events written while the client is away arrive once it reconnects with the last id it saw.
    expect((await http(`${app.url}/audit/events`, { method: 'POST', json: batch(3, 4) })).status).toBe(201);
    const resumed = await readFrames(`${app.url}/audit/events/stream?category=job_management`, { 'last-event-id': data[2].id! }, 4);
    expect(resumed.filter((f) => f.event === undefined).map((f) => JSON.parse(f.data!).metadata.n)).toEqual([3, 4, 5, 6]);
  });

  it('should refuse a malformed Last-Event-ID and unknown filters', async () => {
    const bad = await http(`${app.url}/audit/events/stream`, { headers: { 'last-event-id': 'abc' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('Last-Event-ID');
    const unknown = await http(`${app.url}/audit/events/stream?limit=5`);
    expect(unknown.status).toBe(400);
  });
});
