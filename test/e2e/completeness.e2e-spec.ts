import { randomUUID } from 'node:crypto';
import { bootApp, eventually, http, Json, TestApp, waitForTotal } from './support/embedded-app';

interface SourceBody {
  source: string;
  last_sequence: number;
  gaps_open: Array<{ from: number; to: number }>;
  duplicates: number;
  events: number;
  silent_since: string | null;
}

async function sourceOf(app: TestApp, source: string, ready: (s: SourceBody) => boolean, what: string): Promise<SourceBody> {
  return eventually(
    async () => {
      const r = await http(`${app.url}/audit/sources`);
      expect(r.status).toBe(200);
      const s = (r.body.sources as SourceBody[]).find((x) => x.source === source);
      return s && ready(s) ? s : undefined;
    },
    20_000,
    what,
  );
}

async function findingsOf(app: TestApp, eventType: string, source: string, total: number): Promise<Json> {
  return waitForTotal(app.url, `event_type=${eventType}&metadata.gap_source=${source}`, total, 20_000);
}

describe('completeness (embedded app)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await bootApp({
      AUDIT_SELF_AUDIT_READS: 'false',
      AUDIT_SOURCE_SILENCE_MIN_SECONDS: '10',
      AUDIT_SOURCE_SILENCE_CHECK_SECONDS: '1',
    });
  });
  afterAll(async () => app?.close());

  const send = (source: string, sequence: number, extra: Record<string, unknown> = {}) =>
    http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'device_registered', source, sequence, ...extra } });

  it('should store and return the sequence, and refuse a bad one naming the field', async () => {
    const source = `pos-${randomUUID().slice(0, 8)}`;
    const ok = await send(source, 7);
    expect(ok.status).toBe(201);
    const stored = await eventually(async () => {
      const r = await http(`${app.url}/audit/events/${ok.body.id}`);
      return r.status === 200 ? r.body : undefined;
    });
    expect(stored).toMatchObject({ source, sequence: 7 });
    for (const sequence of [-1, 1.5, 'x']) {
      const bad = await send(source, sequence as number);
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.map((d: { field: string }) => d.field)).toContain('/sequence');
    }
  });

  it('should report a gap (1, 2, 4: 3 missing), close it when 3 arrives late, and report a duplicate', async () => {
    const source = `till-${randomUUID().slice(0, 8)}`;
    for (const n of [1, 2, 4]) expect((await send(source, n)).status).toBe(201);

    const gapped = await sourceOf(app, source, (s) => s.last_sequence === 4, 'sequence 4 tracked');
    expect(gapped.gaps_open).toEqual([{ from: 3, to: 3 }]);
    const gap = await findingsOf(app, 'logging_gap_detected', source, 1);
    const gapEvent = gap.body.events[0];
    expect(gapEvent.metadata).toMatchObject({ gap_source: source, missing_from: 3, missing_to: 3, missing: 1 });
    expect(typeof gapEvent.metadata.detected_at).toBe('string');
    // The finding itself carries no source or sequence: it is never tracked, so it cannot loop.
    expect(gapEvent.sequence).toBeUndefined();
    const status = await http(`${app.url}/audit/status`);
    expect(status.body.components.completeness.detail.gaps_open).toBeGreaterThanOrEqual(1);
    const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text());
    expect(metrics).toContain(`audit_source_gaps_total{source="${source}"} 1`);

    expect((await send(source, 3)).status).toBe(201);
    const closed = await sourceOf(app, source, (s) => s.gaps_open.length === 0, 'gap 3 closed');
    expect(closed.events).toBe(4);
    await findingsOf(app, 'logging_gap_closed', source, 1);

    const dup = await send(source, 2);
    expect(dup.status).toBe(201);
    const duplicated = await sourceOf(app, source, (s) => s.duplicates === 1, 'duplicate of 2 counted');
    expect(duplicated.gaps_open).toEqual([]);
    const d = await findingsOf(app, 'logging_duplicate_detected', source, 1);
    expect(d.body.events[0].metadata).toMatchObject({ gap_source: source, sequence: 2, event_id: dup.body.id });
    // A retry of the same request (same idempotency key, hence the same id) is no duplicate.
    const key = randomUUID();
    expect((await send(source, 5, { idempotency_key: key })).status).toBe(201);
    expect((await send(source, 5, { idempotency_key: key })).status).toBeLessThan(300);
    const after = await sourceOf(app, source, (s) => s.last_sequence === 5, 'sequence 5 tracked');
    expect(after.duplicates).toBe(1);
  });

  it('should report a source that went silent beyond its usual interval (and the minimum), once', async () => {
    const source = `scanner-${randomUUID().slice(0, 8)}`;
    for (const n of [1, 2, 3, 4]) expect((await send(source, n)).status).toBe(201);
    await sourceOf(app, source, (s) => s.last_sequence === 4, 'sequence 4 tracked');
    const silent = await waitForTotal(app.url, `event_type=logging_source_silent&metadata.gap_source=${source}`, 1, 30_000);
    expect(silent.body.events[0].metadata.silent_for_ms).toBeGreaterThan(10_000);
    const listed = await sourceOf(app, source, (s) => s.silent_since !== null, 'silent');
    expect(listed.last_sequence).toBe(4);
    // Still one after further checks: a silence is reported once.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const again = await http(`${app.url}/audit/events?event_type=logging_source_silent&metadata.gap_source=${source}`);
    expect(again.body.total).toBe(1);
  }, 60_000);
});
