import type { AuditEvent } from '@app/contracts';
import { LEEF_SEVERITY } from './severity';
import { actorOf, deviceOf, Producer, siteOf, sourceAddressOf } from './event-fields';

/**
 * LEEF header escaping: a `|` in a header field is written `\|` (QRadar's LEEF guide), and so a `\` is doubled,
 * or a field ending in `\` would escape the separator after it. No line break is allowed in the header.
 */
export function escapeLeefHeader(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, ' ');
}

/**
 * LEEF attribute values have no escape mechanism: the delimiter (a tab here) and line breaks cannot appear in a
 * value, so each becomes a space. `=` needs nothing: the attribute ends at the delimiter, not at the next `=`.
 */
export function leefValue(value: string): string {
  return value.replace(/\r\n|[\t\r\n]/g, ' ');
}

/** The LEEF 2.0 delimiter: a tab, written in the header as `x09` (LEEF 2.0's hex form). */
export const LEEF_DELIMITER = '\t';

/**
 * One event as a LEEF:2.0 line: `LEEF:2.0|Vendor|Product|Version|EventID|x09|` then tab-separated attributes
 * (QRadar's predefined keys devTime/devTimeFormat, cat, sev, src, usrName, then custom ones; `eventId` is the
 * event id for a receiver to dedupe).
 */
export function renderLeef(event: AuditEvent, producer: Producer): string {
  const header = [
    'LEEF:2.0',
    escapeLeefHeader(producer.vendor),
    escapeLeefHeader(producer.product),
    escapeLeefHeader(producer.version),
    escapeLeefHeader(event.event_type),
    'x09',
  ].join('|');
  const attributes: Array<[string, string]> = [
    // A Java SimpleDateFormat pattern, which is what QRadar reads devTimeFormat as.
    ['devTime', event.timestamp],
    ['devTimeFormat', "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"],
    ['cat', event.category],
    ['sev', String(LEEF_SEVERITY[event.severity])],
    ['src', sourceAddressOf(event)],
    ['usrName', actorOf(event)],
    ['userAgent', event.user_agent],
    ['siteId', siteOf(event)],
    ['deviceId', deviceOf(event)],
    ['sessionId', event.session_id],
    ['description', event.description],
    ['metadata', Object.keys(event.metadata).length > 0 ? JSON.stringify(event.metadata) : ''],
    ['eventId', event.id],
  ];
  const body = attributes
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${leefValue(v)}`)
    .join(LEEF_DELIMITER);
  return `${header}|${body}`;
}
