/**
 * The search filter applied to one event in memory: what `filterToSql` (libs/query) asks of ClickHouse, as a
 * pure function, for the capabilities that filter events as they pass on the log (SIEM forwarding; alerting's
 * rules may use it too). It lives in the contracts, beside the parser, so every user filters alike.
 */
import type { AuditEvent, Metadata, MetadataValue } from './audit-event';
import { canonicalCategory } from './catalogue';
import type { EventFilter } from './event-filter';
import { parseTimestampMicros } from './time';

function scalar(v: MetadataValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/**
 * Flattens metadata for the Map column: nested objects become dotted keys ({a:{b:1}} -> a.b = "1"), scalars
 * become strings, arrays stay JSON. `metadata.<key>=<value>` filters compare against these strings.
 */
export function flattenMetadata(metadata: Metadata, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(metadata)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flattenMetadata(v, key, out);
    else out[key] = scalar(v);
  }
  return out;
}

/**
 * Whether `event` is one that GET /audit/events would return for `filter` (the tenant aside: the caller
 * scopes it). Every given condition must hold: a list matches any of its values, each metadata.<key> pair
 * must equal the flattened value (a key given twice with two values matches nothing, as in the search),
 * `text` is a case-insensitive substring of the description, time bounds are inclusive on the event time.
 */
export function matchesEventFilter(event: AuditEvent, filter: EventFilter): boolean {
  if (filter.categories.length > 0 && !filter.categories.includes(canonicalCategory(event.category))) return false;
  if (filter.eventTypes.length > 0 && !filter.eventTypes.includes(event.event_type)) return false;
  if (filter.severities.length > 0 && !filter.severities.includes(event.severity)) return false;
  if (filter.source !== undefined && event.source !== filter.source) return false;
  if (filter.ipAddress !== undefined && event.ip_address !== filter.ipAddress) return false;
  if (filter.sessionId !== undefined && event.session_id !== filter.sessionId) return false;
  if (filter.fromUs !== undefined || filter.toUs !== undefined) {
    const us = parseTimestampMicros(event.timestamp);
    if (us === undefined) return false;
    if (filter.fromUs !== undefined && us < filter.fromUs) return false;
    if (filter.toUs !== undefined && us > filter.toUs) return false;
  }
  if (filter.metadata.length > 0) {
    const flat = flattenMetadata(event.metadata);
    // A missing key reads as '' (ClickHouse's Map default), so `metadata.k=` matches events without k, as in the search.
    for (const [key, value] of filter.metadata) if ((flat[key] ?? '') !== value) return false;
  }
  if (filter.text !== undefined && !event.description.toLowerCase().includes(filter.text.toLowerCase())) return false;
  return true;
}
