import fc from 'fast-check';

/**
 * Generators of event-like values for the property-based tier (test/e2e/ingest-fuzz, and the direct-Kafka one
 * in test/integration): the strings and numbers producers get wrong, near every documented limit.
 */

/** How many cases a property runs: a few hundred by default, more with AUDIT_FUZZ_RUNS (a longer run). */
export function fuzzRuns(defaultRuns: number): number {
  const n = Number(process.env.AUDIT_FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
}

/** Characters the contract or the store treat specially: surrogate halves, controls, noncharacters, bidi marks. */
const INTERESTING = [
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009b',
  '\ufffe',
  '\uffff',
  '\ufdd0',
  '\ud83f\udffe',
  '\u202e',
  '\u200f',
  '\u2066',
  '\u2028',
  '\ufeff',
  '\ufffd',
  '\t',
  '\n',
  '\r',
  '"',
  '\\',
  '/',
  '\u00e9',
  '\ud83d\ude00',
  '\u{10ffff}',
];

const char = fc.oneof(
  { weight: 12, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom(...INTERESTING) },
);

/** A short string: mostly any printable Unicode, sometimes built of odd characters, some of which the rule refuses. */
export const fuzzString = (maxLength = 24): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.string({ unit: 'grapheme', maxLength }) },
    { weight: 1, arbitrary: fc.array(char, { maxLength }).map((a) => a.join('')) },
  );

/** A string within a few characters of `limit` (in code points, as the schema counts), maybe with odd ones in it. */
export const nearLimit = (limit: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.integer({ min: limit - 3, max: limit + 2 }), fc.array(fc.constantFrom(...INTERESTING, 'é', '😀'), { maxLength: 2 }))
    .map(([n, odd]) => 'x'.repeat(Math.max(0, n - odd.length)) + odd.join(''));

/** A placeholder the body writer turns into raw digits: integers past 2^53, which JSON.parse rounds. */
export const RAW_NUMBER = '\u0000raw:';

const oddNumber = fc.oneof(
  fc.constantFrom(-0, 0, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -(2 ** 63), 0.1 + 0.2),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((b) => `${RAW_NUMBER}${b.toString()}`),
);

const metadataKey = fc.oneof(
  { weight: 60, arbitrary: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}$/) },
  { weight: 1, arbitrary: fuzzString(8) },
);

const scalar = fc.oneof(
  { weight: 4, arbitrary: fuzzString() },
  { weight: 3, arbitrary: oddNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
);

/** Metadata values nested up to 7 levels (the contract allows 5), and rarely a chain of 70 (past the parser's bound). */
const metadataValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 7 },
    { weight: 6, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.dictionary(metadataKey, tie('value'), { maxKeys: 5 }) },
  ),
})).value;

const deepChain = fc.integer({ min: 60, max: 80 }).map((n) => {
  let v: unknown = 'bottom';
  for (let i = 0; i < n; i++) v = { d: v };
  return v;
});

export const fuzzMetadata: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 30, arbitrary: fc.dictionary(metadataKey, metadataValue, { maxKeys: 8 }) },
  // The 32 KiB encoded limit: {"k":"..."} is 8 bytes more than the value.
  { weight: 1, arbitrary: fc.integer({ min: 32_755, max: 32_765 }).map((n) => ({ k: 'v'.repeat(n) })) },
  { weight: 1, arbitrary: deepChain.map((d) => ({ chain: d })) },
);

const past = Date.UTC(2000, 0, 1);
export const fuzzTimestamp = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: past, max: Date.now() + 23 * 3600_000 }).map((ms) => new Date(ms).toISOString()) },
  { weight: 1, arbitrary: fc.integer({ min: past - 365 * 86400_000, max: past - 1 }).map((ms) => new Date(ms).toISOString()) },
  { weight: 1, arbitrary: fuzzString(30) },
);

/** An event-like object; `source` is left for the test to set to a unique marker. */
export const fuzzEvent = fc
  .record(
    {
      event_type: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom('login_failed', 'device_registered', 'config_updated', 'user_login') },
        { weight: 1, arbitrary: fuzzString(10) },
      ),
      category: fc.constantFrom('security', 'device_events', 'business_events'),
      severity: fc.constantFrom('debug', 'info', 'warning', 'error', 'critical'),
      description: fc.oneof({ weight: 15, arbitrary: fuzzString(40) }, { weight: 1, arbitrary: nearLimit(8192) }),
      user_agent: fc.oneof({ weight: 15, arbitrary: fuzzString(20) }, { weight: 1, arbitrary: nearLimit(512) }),
      session_id: fc.oneof({ weight: 15, arbitrary: fuzzString(20) }, { weight: 1, arbitrary: nearLimit(256) }),
      metadata: fuzzMetadata,
      timestamp: fuzzTimestamp,
    },
    { requiredKeys: ['event_type'] },
  )
  .chain((e) =>
    // Rarely a tenant_id, which HTTP refuses and a direct message may carry.
    fc
      .oneof({ weight: 15, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('acme', 'other') })
      .map((tenant_id) => (tenant_id ? { ...e, tenant_id } : e)),
  );

/** JSON text of `value` with RAW_NUMBER placeholders written as raw digits. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000raw:(-?\d+)"/g, '$1');
}

/**
 * What the service promises to return for what was sent: the value as JSON.parse reads the body (raw big
 * integers become the nearest double), re-encoded as JSON (so -0 reads back as 0).
 */
export function asReadBack(value: unknown): unknown {
  return JSON.parse(toJsonText(value));
}
