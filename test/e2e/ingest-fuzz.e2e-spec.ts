import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { bootApp, eventually, http, TestApp } from './support/embedded-app';
import { asReadBack, fuzzEvent, fuzzRuns, toJsonText } from './support/fuzz-events';

/** Values shaped like events, with the edges producers get wrong: types, sizes, nesting, odd strings. */
const eventLike = fc.record(
  {
    event_type: fc.oneof(fc.constantFrom('login_failed', 'device_registered', 'x', 'Bad Type', ''), fc.string(), fc.integer()),
    category: fc.oneof(fc.constantFrom('security', 'business_events', 'UPPER'), fc.string()),
    severity: fc.oneof(fc.constantFrom('info', 'critical', 'loud'), fc.string()),
    description: fc.oneof(fc.string({ maxLength: 50 }), fc.string({ minLength: 8000, maxLength: 9000 })),
    metadata: fc.oneof(fc.jsonValue({ maxDepth: 7 }), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }))),
    timestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
      fc.integer(),
    ),
    ip_address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
    idempotency_key: fc.oneof(fc.string({ maxLength: 200 }), fc.uuid()),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

describe('POST /audit/events under random input', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('should answer only 2xx or 4xx, with an error body on every 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          eventLike,
          fc.array(eventLike, { maxLength: 20 }),
          fc.jsonValue(),
          fc.string().map((s) => ({ raw: s })),
        ),
        fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain'),
        async (value, contentType) => {
          const raw = value !== null && typeof value === 'object' ? (value as { raw?: unknown }).raw : undefined;
          const body =
            typeof raw === 'string'
              ? raw
              : contentType === 'application/x-ndjson' && Array.isArray(value)
                ? value.map((v) => JSON.stringify(v)).join('\n')
                : JSON.stringify(value);
          const r = await http(`${app.url}/audit/events`, { method: 'POST', body, headers: { 'content-type': contentType } });
          expect([200, 201, 207, 400, 413, 415, 422]).toContain(r.status);
          if (r.status >= 400) {
            expect(typeof r.body.error.code).toBe('string');
            expect(typeof r.body.error.message).toBe('string');
          }
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  }, 600_000);

  it('should make every 2xx event visible by id as sent, and store nothing of a 4xx', async () => {
    /** Markers (the `source` of each generated event) whose event was refused: checked once all writes are in. */
    const refused: string[] = [];
    let accepted = 0;
    const micros = (iso: string): string => iso.replace(/Z$/, '000Z');

    await fc.assert(
      fc.asyncProperty(fc.array(fuzzEvent, { minLength: 1, maxLength: 4 }), fc.boolean(), async (generated, asBatch) => {
        const events = generated.map((e) => ({ ...e, source: `fuzz:${randomUUID()}` }));
        const batch = asBatch || events.length > 1;
        const body = batch ? `[${events.map(toJsonText).join(',')}]` : toJsonText(events[0]);
        const r = await http(`${app.url}/audit/events`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        expect(r.status).toBeLessThan(500);
        // Per event: the id it was given, or undefined when refused.
        let ids: Array<string | undefined>;
        if (!batch) ids = [r.status === 201 ? (r.body.id as string) : undefined];
        else if (Array.isArray(r.body?.results))
          ids = (r.body.results as Array<{ status: string; id?: string }>).map((x) => (x.status === 'accepted' ? x.id : undefined));
        else ids = events.map(() => undefined);
        expect(ids).toHaveLength(events.length);

        for (let i = 0; i < events.length; i++) {
          const sent = asReadBack(events[i]) as Record<string, unknown>;
          const id = ids[i];
          if (id === undefined) {
            refused.push(sent.source as string);
            continue;
          }
          accepted++;
          const got = await eventually(
            async () => {
              const g = await http(`${app.url}/audit/events/${id}`);
              return g.status === 200 ? g.body : undefined;
            },
            15_000,
            `accepted event ${id}`,
          );
          expect(got.source).toBe(sent.source);
          expect(got.event_type).toBe(sent.event_type);
          expect(got.metadata).toEqual(sent.metadata ?? {});
          for (const field of ['description', 'user_agent', 'session_id', 'severity'] as const) {
            if (sent[field] !== undefined) expect(got[field]).toBe(sent[field]);
          }
          if (sent.timestamp !== undefined) expect(got.timestamp).toBe(micros(sent.timestamp as string));
        }
      }),
      { numRuns: fuzzRuns(200) },
    );

    // Everything written before this sentinel is stored once it is visible (one log, read in order).
    const sentinel = await http(`${app.url}/audit/events`, {
      method: 'POST',
      json: { event_type: 'login_failed', source: 'fuzz:sentinel' },
    });
    expect(sentinel.status).toBe(201);
    await eventually(async () => ((await http(`${app.url}/audit/events/${sentinel.body.id}`)).status === 200 ? true : undefined));
    // Both sides of the property were exercised.
    expect(refused.length).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
    for (const marker of refused) {
      const found = await http(`${app.url}/audit/events?source=${encodeURIComponent(marker)}`);
      expect(found.status).toBe(200);
      expect({ marker, total: found.body.total }).toEqual({ marker, total: 0 });
    }
  }, 900_000);
});
