import Ajv2020, { ErrorObject } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import schema from './audit-event.schema.json';
import { AuditEvent, AuditEventInput, Metadata, SCHEMA_VERSION, Severity } from './audit-event';
import { canonicalCategory, findEventType } from './catalogue';
import { ErrorDetail } from './errors';
import { deterministicUuid, uuidv7 } from './ids';
import { formatMicros, MAX_FUTURE_SKEW_US, MIN_TIMESTAMP_US, parseTimestampMicros } from './time';

export const LIMITS = {
  metadataDepth: 5,
  metadataKeysPerObject: 100,
  metadataBytes: 32 * 1024,
  descriptionChars: 8192,
  /** One event's encoded size; bigger bodies are almost always a producer bug (a dumped payload). */
  eventBytes: 64 * 1024,
} as const;

/**
 * What a metadata key may be: the one definition is the contract's own propertyNames pattern, which event
 * validation, the query filters and the OpenAPI document all read from here.
 */
export const METADATA_KEY_PATTERN: string = schema.properties.metadata.propertyNames.pattern;
export const METADATA_KEY_RE = new RegExp(METADATA_KEY_PATTERN);

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv, ['uuid', 'ipv4', 'ipv6']);
const validateSchema = ajv.compile<AuditEventInput>(schema);

export { schema as auditEventJsonSchema };

/** Who sent the event and when, as the ingest edge saw it. */
export interface IngestContext {
  tenantId: string;
  receivedAtMicros: number;
  ipAddress?: string;
  userAgent?: string;
  sessionId?: string;
  source?: string;
  /** Direct Kafka producers name their tenant; HTTP callers get the tenant of their API key and may not name one. */
  trustTenantField: boolean;
  /** Id to use when the event carries none and has no idempotency key (e.g. derived from a Kafka offset). */
  fallbackId?: string;
  /** The request-level idempotency key (Idempotency-Key header). */
  requestIdempotencyKey?: string;
  /** The event's index when the request was a batch: each event gets `<key>:<index>`. */
  batchIndex?: number;
  /**
   * Keep the event's own `received_at` (an archive being restored: the row must come back as it was stored).
   * Otherwise `received_at` is always the server's `receivedAtMicros`, whatever the input says.
   */
  keepReceivedAt?: boolean;
}

export type NormalizeResult = { ok: true; event: AuditEvent } | { ok: false; errors: ErrorDetail[] };

function describeAjvError(e: ErrorObject): ErrorDetail {
  const field = e.instancePath || '/';
  switch (e.keyword) {
    case 'additionalProperties':
      return { field, message: `unknown field '${String(e.params.additionalProperty)}'` };
    case 'required':
      return { field: `${e.instancePath}/${String(e.params.missingProperty)}`, message: 'is required' };
    case 'enum':
      return { field, message: `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'propertyNames':
      return { field, message: `metadata key '${String(e.params.propertyName)}' must match ${METADATA_KEY_RE.source}` };
    case 'pattern':
      return { field, message: `must match ${String(e.params.pattern)}` };
    case 'format':
      return { field, message: `must be a valid ${String(e.params.format)}` };
    default:
      return { field, message: e.message ?? e.keyword };
  }
}

function checkMetadata(value: unknown, path: string, depth: number, errors: ErrorDetail[]): void {
  if (errors.length > 20) return;
  if (Array.isArray(value)) {
    if (depth > LIMITS.metadataDepth) {
      errors.push({ field: path, message: `metadata is nested deeper than ${LIMITS.metadataDepth} levels` });
      return;
    }
    value.forEach((v, i) => checkMetadata(v, `${path}/${i}`, depth + 1, errors));
    return;
  }
  if (value !== null && typeof value === 'object') {
    if (depth > LIMITS.metadataDepth) {
      errors.push({ field: path, message: `metadata is nested deeper than ${LIMITS.metadataDepth} levels` });
      return;
    }
    const keys = Object.keys(value);
    if (keys.length > LIMITS.metadataKeysPerObject) {
      errors.push({ field: path, message: `an object in metadata has more than ${LIMITS.metadataKeysPerObject} keys` });
      return;
    }
    for (const k of keys) {
      if (!METADATA_KEY_RE.test(k)) {
        errors.push({ field: path, message: `metadata key '${k.slice(0, 80)}' must match ${METADATA_KEY_RE.source}` });
        continue;
      }
      checkMetadata((value as Record<string, unknown>)[k], `${path}/${k}`, depth + 1, errors);
    }
    return;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    errors.push({ field: path, message: 'numbers in metadata must be finite' });
  } else if (typeof value === 'string') {
    const problem = stringProblem(value);
    if (problem !== undefined) errors.push({ field: path, message: problem });
  }
}

/**
 * What no string of an event may hold, in any field, metadata key or metadata value at any depth, on HTTP and
 * on Kafka alike (one rule, `stringProblem`):
 * - control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) other than tab, LF and CR. They
 *   are stored faithfully, but an audit record is read in terminals and SIEMs, where ESC or CSI (U+009B)
 *   sequences rewrite what the reader sees;
 * - an unpaired UTF-16 surrogate (a `\ud800` escape without its low half, or a lone low half): not Unicode
 *   text. Measured on chdb (ClickHouse 26.7): a lone high surrogate makes the whole insert fail with
 *   CANNOT_PARSE_ESCAPE_SEQUENCE (the batch could never be stored), a lone low one is stored as three U+FFFD.
 * Everything else the store was seen to keep byte for byte (NUL aside, which is a control character):
 * noncharacters (U+FFFE, U+FFFF, U+FDD0, U+1FFFE), bidi controls (U+200F, U+202E, U+2066), U+2028, BOM,
 * valid surrogate pairs. Those are accepted as sent.
 */
const STRING_PROBLEM_RE =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const CONTROL_CHARS_MESSAGE = 'must not contain control characters other than tab, CR and LF';
export const LONE_SURROGATE_MESSAGE =
  'must not contain an unpaired UTF-16 surrogate (\\ud800-\\udfff without its other half): it is not Unicode text';

/** Any control character or surrogate half: a plain character class, so the common clean string costs one scan. */
const SUSPECT_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ud800-\udfff]/;

/** Why `s` may not be part of an event, or undefined when it may. */
export function stringProblem(s: string): string | undefined {
  if (!SUSPECT_RE.test(s)) return undefined;
  const m = STRING_PROBLEM_RE.exec(s);
  if (m === null) return undefined;
  const c = m[0].charCodeAt(0);
  return c >= 0xd800 && c <= 0xdfff ? LONE_SURROGATE_MESSAGE : CONTROL_CHARS_MESSAGE;
}

/**
 * The one validation path for events from HTTP and from Kafka: schema check, the limits a schema cannot
 * express, then enrichment from the catalogue and the ingest context. Pure: the clock and ids come in.
 */
export function normalizeEvent(input: unknown, ctx: IngestContext): NormalizeResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, errors: [{ field: '/', message: 'an event must be a JSON object' }] };
  }
  if (!validateSchema(input)) {
    return { ok: false, errors: (validateSchema.errors ?? []).slice(0, 20).map(describeAjvError) };
  }
  const errors: ErrorDetail[] = [];
  const ev = input;

  let receivedAtUs = ctx.receivedAtMicros;
  if (ctx.keepReceivedAt && ev.received_at !== undefined) {
    const kept = parseTimestampMicros(ev.received_at);
    if (kept === undefined)
      errors.push({ field: '/received_at', message: 'must be an ISO 8601 date-time such as 2025-09-01T15:30:45.123456Z' });
    else receivedAtUs = kept;
  }
  let timestampUs = ctx.receivedAtMicros;
  if (ev.timestamp !== undefined) {
    const parsed = parseTimestampMicros(ev.timestamp);
    if (parsed === undefined) {
      errors.push({ field: '/timestamp', message: 'must be an ISO 8601 date-time such as 2025-09-01T15:30:45.123456Z' });
    } else if (parsed < MIN_TIMESTAMP_US) {
      errors.push({ field: '/timestamp', message: 'must not be before 2000-01-01T00:00:00Z' });
    } else if (parsed > ctx.receivedAtMicros + MAX_FUTURE_SKEW_US) {
      errors.push({ field: '/timestamp', message: 'must not be more than 24 hours ahead of the server clock' });
    } else {
      timestampUs = parsed;
    }
  }
  if (ev.metadata !== undefined) {
    checkMetadata(ev.metadata, '/metadata', 1, errors);
    if (errors.length === 0 && Buffer.byteLength(JSON.stringify(ev.metadata)) > LIMITS.metadataBytes) {
      errors.push({ field: '/metadata', message: `metadata must encode to at most ${LIMITS.metadataBytes} bytes of JSON` });
    }
  }
  for (const field in ev) {
    const v = (ev as unknown as Record<string, unknown>)[field];
    if (typeof v !== 'string') continue;
    const problem = stringProblem(v);
    if (problem !== undefined) errors.push({ field: `/${field}`, message: problem });
  }
  if (ev.sequence !== undefined && !(ev.source ?? ctx.source)) {
    errors.push({ field: '/sequence', message: 'needs a source: a sequence counts the events of one source' });
  }
  if (!ctx.trustTenantField && ev.tenant_id !== undefined) {
    errors.push({ field: '/tenant_id', message: 'must not be set over HTTP: the tenant comes from the API key' });
  }

  const known = findEventType(ev.event_type);
  const category = ev.category !== undefined ? canonicalCategory(ev.category) : known?.category;
  if (category === undefined) {
    errors.push({
      field: '/category',
      message: `is required for event type '${ev.event_type}', which is not in the catalogue (GET /audit/event-types)`,
    });
  }
  if (errors.length > 0 || category === undefined) return { ok: false, errors };

  let idempotencyKey = ev.idempotency_key ?? '';
  if (!idempotencyKey && ctx.requestIdempotencyKey !== undefined) {
    idempotencyKey = ctx.batchIndex === undefined ? ctx.requestIdempotencyKey : `${ctx.requestIdempotencyKey}:${ctx.batchIndex}`;
  }
  const tenantId = ctx.trustTenantField && ev.tenant_id ? ev.tenant_id : ctx.tenantId;
  // A retried request must land on the first attempt's id, so consumers drop the copy even if the
  // idempotency record of the first attempt was lost in a crash.
  const id = ev.id ?? (idempotencyKey ? deterministicUuid(`${tenantId}\u0000${idempotencyKey}`) : (ctx.fallbackId ?? uuidv7()));
  const severity: Severity = ev.severity ?? known?.severity ?? 'info';

  return {
    ok: true,
    event: {
      schema_version: SCHEMA_VERSION,
      id: id.toLowerCase(),
      tenant_id: tenantId,
      event_type: ev.event_type,
      category,
      severity,
      description: ev.description ?? known?.description ?? '',
      metadata: (ev.metadata ?? {}) as Metadata,
      timestamp: formatMicros(timestampUs),
      received_at: formatMicros(receivedAtUs),
      ip_address: ev.ip_address ?? ctx.ipAddress ?? '',
      user_agent: ev.user_agent ?? ctx.userAgent ?? '',
      session_id: ev.session_id ?? ctx.sessionId ?? '',
      source: ev.source ?? ctx.source ?? '',
      ...(ev.sequence !== undefined && { sequence: ev.sequence }),
      idempotency_key: idempotencyKey,
    },
  };
}

/** The JSON put on the log: a normalized event minus empty optional fields, so it re-validates as input. */
export function serializeEvent(e: AuditEvent): string {
  // Built field by field rather than copied and pruned with `delete`, which made it a top cost of ingest.
  const wire: Partial<AuditEvent> = {
    schema_version: e.schema_version,
    id: e.id,
    tenant_id: e.tenant_id,
    event_type: e.event_type,
    category: e.category,
    severity: e.severity,
    description: e.description,
    metadata: e.metadata,
    timestamp: e.timestamp,
    received_at: e.received_at,
  };
  if (e.ip_address !== '') wire.ip_address = e.ip_address;
  if (e.user_agent !== '') wire.user_agent = e.user_agent;
  if (e.session_id !== '') wire.session_id = e.session_id;
  if (e.source !== '') wire.source = e.source;
  if (e.sequence !== undefined) wire.sequence = e.sequence;
  if (e.idempotency_key !== '') wire.idempotency_key = e.idempotency_key;
  return JSON.stringify(wire);
}

const str = (v: unknown): v is string => typeof v === 'string';
const optionalStr = (v: unknown): string | undefined => (v === undefined ? '' : typeof v === 'string' ? v : undefined);

/**
 * The inverse of `serializeEvent`, for a log this process alone writes (the embedded one), where every record
 * was normalized moments before it was appended: the shape is checked, the rules are not run again. Returns
 * undefined for anything not in that shape, which then goes through `normalizeEvent` like any message.
 */
export function deserializeNormalizedEvent(raw: unknown): AuditEvent | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const e = raw as Record<string, unknown>;
  const metadata = e.metadata;
  if (
    e.schema_version !== SCHEMA_VERSION ||
    !str(e.id) ||
    !str(e.tenant_id) ||
    !str(e.event_type) ||
    !str(e.category) ||
    !str(e.severity) ||
    !str(e.description) ||
    !str(e.timestamp) ||
    !str(e.received_at) ||
    metadata === null ||
    typeof metadata !== 'object' ||
    Array.isArray(metadata)
  ) {
    return undefined;
  }
  const ip_address = optionalStr(e.ip_address);
  const user_agent = optionalStr(e.user_agent);
  const session_id = optionalStr(e.session_id);
  const source = optionalStr(e.source);
  const idempotency_key = optionalStr(e.idempotency_key);
  if (
    ip_address === undefined ||
    user_agent === undefined ||
    session_id === undefined ||
    source === undefined ||
    idempotency_key === undefined
  ) {
    return undefined;
  }
  const sequence = e.sequence;
  if (sequence !== undefined && !(Number.isSafeInteger(sequence) && (sequence as number) >= 0)) return undefined;
  return {
    schema_version: SCHEMA_VERSION,
    id: e.id,
    tenant_id: e.tenant_id,
    event_type: e.event_type,
    category: e.category,
    severity: e.severity as Severity,
    description: e.description,
    metadata: metadata as Metadata,
    timestamp: e.timestamp,
    received_at: e.received_at,
    ip_address,
    user_agent,
    session_id,
    source,
    ...(sequence !== undefined && { sequence: sequence as number }),
    idempotency_key,
  };
}
