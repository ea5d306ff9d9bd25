import { hash } from 'node:crypto';
import { AuditEvent, formatMicros, parseTimestampMicros } from '@app/contracts';

/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace, strings and numbers
 * serialised as ECMAScript's JSON.stringify does (which is what RFC 8785 specifies). Non-finite numbers have
 * no JSON form and are refused.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JCS has no form for a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    // Array.prototype.sort without a comparator compares UTF-16 code units, RFC 8785 §3.2.3's order.
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`JCS has no form for a ${typeof value}`);
}

/**
 * The version byte in front of every leaf. A later encoding (new fields, PII replaced by its ciphertext) gets
 * a new byte; leaves already in the tree keep theirs, so a schema change never invalidates history.
 */
export const LEAF_VERSION_1 = 0x01;

/** The stored event's fields a v1 leaf covers: everything but where it sits in the log. */
export const LEAF_V1_FIELDS = [
  'schema_version',
  'id',
  'tenant_id',
  'event_type',
  'category',
  'severity',
  'description',
  'metadata',
  'timestamp',
  'received_at',
  'ip_address',
  'user_agent',
  'session_id',
  'source',
  'idempotency_key',
] as const;

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function canonicalTime(text: string): string {
  // The log carries 6-digit micros, the store renders its DateTime64(6) back the same way: one spelling.
  // Nearly every event is in it already; parsing it anyway was half of the leaf's cost.
  if (text.length === 27 && CANONICAL_TIME.test(text)) return text;
  const us = parseTimestampMicros(text);
  return us === undefined ? text : formatMicros(us);
}

// The top-level keys in RFC 8785 order, fixed: only the metadata needs sorting per event (3x faster).
const SORTED_V1_FIELDS = [...LEAF_V1_FIELDS].sort();

/** The JCS text inside a v1 leaf: the event's LEAF_V1_FIELDS, timestamps in their canonical spelling. */
function leafV1Json(event: AuditEvent): string {
  let json = '{';
  for (const f of SORTED_V1_FIELDS) {
    const v = f === 'timestamp' || f === 'received_at' ? canonicalTime(event[f]) : event[f];
    if (v === undefined) continue;
    json += `${json.length > 1 ? ',' : ''}${JSON.stringify(f)}:${canonicalJson(v)}`;
  }
  return `${json}}`;
}

/** v1 leaf bytes: 0x01 ‖ UTF-8(JCS of the event's LEAF_V1_FIELDS), timestamps in their canonical spelling. */
export function encodeLeafV1(event: AuditEvent): Buffer {
  return Buffer.concat([Buffer.from([LEAF_VERSION_1]), Buffer.from(leafV1Json(event), 'utf8')]);
}

// RFC 6962's leaf prefix 0x00 and the version byte, as text: U+0000 and U+0001 are one UTF-8 byte each.
const LEAF_V1_PREFIX = String.fromCharCode(0x00, LEAF_VERSION_1);

/**
 * hashLeaf(encodeLeafV1(event)), in one call on one string: without the three buffers in between it is
 * 2-3 µs cheaper per event (the consumer and every verify hash each event).
 */
export function leafHashOf(event: AuditEvent): Buffer {
  return hash('sha256', LEAF_V1_PREFIX + leafV1Json(event), 'buffer');
}
