import type { AuditEvent } from '@app/contracts';
import { CEF_SEVERITY } from './severity';
import { actorOf, deviceOf, epochMillis, Producer, siteOf, sourceAddressOf } from './event-fields';

/**
 * CEF header field escaping (ArcSight "Implementing CEF" rev. 20): `\` -> `\\`, `|` -> `\|`, nothing else; a
 * newline is not allowed in the header, so CR/LF become a space (what Logstash's encoder does).
 */
export function escapeCefHeader(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, ' ');
}

/**
 * CEF extension value escaping: `\` -> `\\`, `=` -> `\=`, a line break (CRLF, CR or LF) -> the two characters
 * `\n`. A `|` stays literal: `\|` in an extension is a parse error in Beats (errorEscapedPipeInExtension).
 */
export function escapeCefExtension(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/=/g, '\\=')
    .replace(/\r\n|\r|\n/g, '\\n');
}

/** Extension keys are `[A-Za-z0-9]+` only: the spec says alphanumeric and Logstash strips everything else. */
const CEF_KEY = /^[A-Za-z0-9]+$/;

/** Renders `key=value` pairs, skipping empty values (an empty `src=` is an invalid address to ArcSight). */
export function cefExtension(pairs: Array<[string, string]>): string {
  const out: string[] = [];
  for (const [key, value] of pairs) {
    if (!CEF_KEY.test(key)) throw new Error(`CEF extension key '${key}' is not alphanumeric`);
    if (value === '') continue;
    out.push(`${key}=${escapeCefExtension(value)}`);
  }
  return out.join(' ');
}

/**
 * One event as a CEF:0 line (no syslog header, no line break). Keys: rt (epoch ms), cat, src, suser,
 * requestClientApplication, cs1 site, cs2 device, cs3 session, msg (the metadata as JSON), and externalId (the
 * event id, for a receiver to dedupe). externalId is last on purpose: parsers trim trailing whitespace of the
 * final value (Beats padded* tests), and an id has none to lose.
 */
export function renderCef(event: AuditEvent, producer: Producer): string {
  const header = [
    'CEF:0',
    escapeCefHeader(producer.vendor),
    escapeCefHeader(producer.product),
    escapeCefHeader(producer.version),
    escapeCefHeader(event.event_type),
    escapeCefHeader(event.description || event.event_type),
    String(CEF_SEVERITY[event.severity]),
  ].join('|');
  const site = siteOf(event);
  const device = deviceOf(event);
  const extension = cefExtension([
    ['rt', String(epochMillis(event.timestamp))],
    ['cat', event.category],
    ['src', sourceAddressOf(event)],
    ['suser', actorOf(event)],
    ['requestClientApplication', event.user_agent],
    ['cs1Label', site ? 'site_id' : ''],
    ['cs1', site],
    ['cs2Label', device ? 'device_id' : ''],
    ['cs2', device],
    ['cs3Label', event.session_id ? 'session_id' : ''],
    ['cs3', event.session_id],
    ['msg', Object.keys(event.metadata).length > 0 ? JSON.stringify(event.metadata) : ''],
    ['externalId', event.id],
  ]);
  return `${header}|${extension}`;
}
