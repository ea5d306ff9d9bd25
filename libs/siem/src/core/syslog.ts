import type { AuditEvent } from '@app/contracts';
import { DEFAULT_FACILITY, priority } from './severity';

/** The syslog header fields that do not come from the event. */
export interface SyslogHeader {
  /** 0..23; 13 ("log audit") by default. */
  facility: number;
  hostname: string;
  appName: string;
}

export const DEFAULT_SYSLOG_HEADER: SyslogHeader = { facility: DEFAULT_FACILITY, hostname: '-', appName: 'homepot-audit' };

/** RFC 5424 PRINTUSASCII (%d33-126), at most `max` characters; "-" (the NILVALUE) when nothing is left. */
export function printableAscii(value: string, max: number): string {
  const kept = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return kept === '' ? '-' : kept;
}

/** SD-PARAM value escaping (RFC 5424 §6.3.3): `"`, `\` and `]` are preceded by `\`; nothing else is. */
export function escapeSdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** SD-NAME: 1..32 PRINTUSASCII except `=`, SP, `]`, `"`. */
const SD_NAME = /^[\x21-\x7e]{1,32}$/;
const SD_NAME_FORBIDDEN = /[= \]"]/;

export function isSdName(name: string): boolean {
  return SD_NAME.test(name) && !SD_NAME_FORBIDDEN.test(name);
}

/** One SD-ELEMENT, skipping empty params; `[id p="v" ...]`. */
export function sdElement(id: string, params: Array<[string, string]>): string {
  if (!isSdName(id.split('@')[0]) || !isSdName(id)) throw new Error(`SD-ID '${id}' is not an SD-NAME`);
  const rendered = params
    .filter(([, v]) => v !== '')
    .map(([name, v]) => {
      if (!isSdName(name)) throw new Error(`PARAM-NAME '${name}' is not an SD-NAME`);
      return ` ${name}="${escapeSdValue(v)}"`;
    });
  return `[${id}${rendered.join('')}]`;
}

const UTF8_BOM = '\uFEFF';

/**
 * The MSG part: line breaks become a space (a receiver on LF framing would split the message, and rsyslog
 * escapes them to #012 anyway); the BOM of MSG-UTF8 only when the text is not plain ASCII, since MSG-ANY
 * without it is valid and what most receivers expect for ASCII.
 */
export function syslogMessage(text: string): string {
  const flat = text.replace(/\r\n|\r|\n/g, ' ');
  return /^[\x00-\x7f]*$/.test(flat) ? flat : UTF8_BOM + flat;
}

/**
 * RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [SP MSG]`. The timestamp is the event's own
 * (UTC, microseconds: TIME-SECFRAC allows 6 digits), MSGID its type (at most 32 characters).
 */
export function renderRfc5424(event: AuditEvent, header: SyslogHeader, structuredData: string, message: string): string {
  const parts = [
    `<${priority(header.facility, event.severity)}>1`,
    event.timestamp,
    printableAscii(header.hostname, 255),
    printableAscii(header.appName, 48),
    '-',
    printableAscii(event.event_type, 32),
    structuredData || '-',
  ];
  const line = parts.join(' ');
  return message === '' ? line : `${line} ${syslogMessage(message)}`;
}

/**
 * The event's fields as one SD-ELEMENT. The SD-ID must be `name@<private enterprise number>`; 32473 is the
 * documentation number of RFC 5612, so a deployment with its own PEN sets its own id.
 */
export function eventStructuredData(event: AuditEvent, sdId: string): string {
  const text = (k: string): string => {
    const v = event.metadata[k];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
  };
  return sdElement(sdId, [
    ['id', event.id],
    ['tenant', event.tenant_id],
    ['type', event.event_type],
    ['category', event.category],
    ['severity', event.severity],
    ['src', event.ip_address],
    ['user', text('user_id') || text('operator_id')],
    ['site', text('site_id')],
    ['device', text('device_id')],
    ['session', event.session_id],
  ]);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3164 TIMESTAMP `Mmm dd hh:mm:ss`, the day space-padded; in UTC, since the format has no zone. */
export function rfc3164Timestamp(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** RFC 3164: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG`, the TAG at most 32 alphanumerics (§4.1.3). */
export function renderRfc3164(event: AuditEvent, header: SyslogHeader, message: string): string {
  const tag = header.appName.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32) || 'audit';
  const host = header.hostname === '-' ? 'localhost' : printableAscii(header.hostname, 255);
  // No BOM: RFC 3164 predates MSG-UTF8, and a legacy receiver would keep it as three bytes of text.
  return `<${priority(header.facility, event.severity)}>${rfc3164Timestamp(event.timestamp)} ${host} ${tag}: ${message.replace(/\r\n|\r|\n/g, ' ')}`;
}
