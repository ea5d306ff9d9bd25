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

/**
 * v2 covers v1's fields and the producer's `sequence` (completeness, issue 13), so the per-source counter an
 * auditor proves "nothing lost before it arrived" with is tamper-evident too. It is the encoding of exactly the
 * events that carry a sequence; an event without one is v1, byte for byte as before, so no stored leaf changes
 * meaning. Stripping a sequence from a stored event, or adding one, changes its encoding and so its leaf.
 */
export const LEAF_VERSION_2 = 0x02;
export const LEAF_V2_FIELDS = [...LEAF_V1_FIELDS, 'sequence'] as const;

export type LeafEncoding = 'v1' | 'v2';

/** Which encoding an event's leaf uses: decided by the event itself (a sequence or not). */
export function leafEncodingOf(event: Pick<AuditEvent, 'sequence'>): LeafEncoding {
  return event.sequence === undefined ? 'v1' : 'v2';
}

// The top-level keys in RFC 8785 order, fixed: only the metadata needs sorting per event (3x faster).
const SORTED_V1_FIELDS = [...LEAF_V1_FIELDS].sort();
const SORTED_V2_FIELDS = [...LEAF_V2_FIELDS].sort();

/** The JCS text inside a leaf: the event's fields of the encoding (sorted), timestamps in their canonical spelling. */
function leafJson(event: AuditEvent, sortedFields: readonly string[]): string {
  let json = '{';
  for (const f of sortedFields) {
    const raw = (event as unknown as Record<string, unknown>)[f];
    const v = f === 'timestamp' || f === 'received_at' ? canonicalTime(raw as string) : raw;
    if (v === undefined) continue;
    json += `${json.length > 1 ? ',' : ''}${JSON.stringify(f)}:${canonicalJson(v)}`;
  }
  return `${json}}`;
}

/** v1 leaf bytes: 0x01 ‖ UTF-8(JCS of the event's LEAF_V1_FIELDS), timestamps in their canonical spelling. */
export function encodeLeafV1(event: AuditEvent): Buffer {
  return Buffer.concat([Buffer.from([LEAF_VERSION_1]), Buffer.from(leafJson(event, SORTED_V1_FIELDS), 'utf8')]);
}

/** v2 leaf bytes: 0x02 ‖ UTF-8(JCS of the event's LEAF_V2_FIELDS), as v1 otherwise. */
export function encodeLeafV2(event: AuditEvent): Buffer {
  return Buffer.concat([Buffer.from([LEAF_VERSION_2]), Buffer.from(leafJson(event, SORTED_V2_FIELDS), 'utf8')]);
}

/** The event's leaf bytes in the encoding leafEncodingOf picks. */
export function encodeLeaf(event: AuditEvent): Buffer {
  return leafEncodingOf(event) === 'v1' ? encodeLeafV1(event) : encodeLeafV2(event);
}

// RFC 6962's leaf prefix 0x00 and the version byte, as text: U+0000, U+0001 and U+0002 are one UTF-8 byte each.
const LEAF_V1_PREFIX = String.fromCharCode(0x00, LEAF_VERSION_1);
const LEAF_V2_PREFIX = String.fromCharCode(0x00, LEAF_VERSION_2);

/**
 * hashLeaf(encodeLeaf(event)), in one call on one string: without the three buffers in between it is
 * 2-3 µs cheaper per event (the consumer and every verify hash each event).
 */
export function leafHashOf(event: AuditEvent): Buffer {
  return leafEncodingOf(event) === 'v1'
    ? hash('sha256', LEAF_V1_PREFIX + leafJson(event, SORTED_V1_FIELDS), 'buffer')
    : hash('sha256', LEAF_V2_PREFIX + leafJson(event, SORTED_V2_FIELDS), 'buffer');
}
