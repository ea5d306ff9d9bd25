import fc from 'fast-check';
import { bootApp, http, TestApp } from './support/embedded-app';

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
      { numRuns: 300 },
    );
  }, 120_000);
});
