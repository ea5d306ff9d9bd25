import { bootApp, http, TestApp } from './support/embedded-app';
import { readFrames, readFramesReady, SseFrame } from './support/sse';

/** Data frames (not `ready` or `dropped`) that arrived. */
const dataFrames =
  (n: number) =>
  (frames: SseFrame[]): boolean =>
    frames.filter((x) => x.event === undefined && x.data).length >= n;

describe('GET /audit/events/stream', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should send matching new events, then resume from Last-Event-ID without gaps or repeats', async () => {
    const stream = readFramesReady(`${app.url}/audit/events/stream?category=job_management`, {}, dataFrames(3));
    await stream.ready;
    const first = stream.frames;
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
    const resumed = await readFrames(
      `${app.url}/audit/events/stream?category=job_management`,
      { 'last-event-id': data[2].id! },
      dataFrames(4),
    );
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
