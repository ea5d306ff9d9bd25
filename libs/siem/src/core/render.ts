import type { AuditEvent } from '@app/contracts';
import { renderCef } from './cef';
import { Producer } from './event-fields';
import { renderLeef } from './leef';
import { eventStructuredData, renderRfc3164, renderRfc5424, SyslogHeader } from './syslog';

export const SIEM_FORMATS = ['CEF', 'LEEF', 'RFC5424', 'RFC3164', 'JSON'] as const;
export type SiemFormat = (typeof SIEM_FORMATS)[number];

/** The syslog header in front of a CEF or LEEF payload: RFC 5424 (default), RFC 3164 for legacy, or none. */
export const SYSLOG_HEADERS = ['rfc5424', 'rfc3164', 'none'] as const;
export type SyslogHeaderKind = (typeof SYSLOG_HEADERS)[number];

export interface RenderOptions {
  format: SiemFormat;
  producer: Producer;
  header: SyslogHeader;
  /** For CEF and LEEF only. */
  syslogHeader: SyslogHeaderKind;
  /** The RFC 5424 SD-ID carrying the event's fields. */
  sdId: string;
}

/** The event as JSON, the fields in the contract's order; no `position` (where it sits on the log is ours). */
export function eventJson(event: AuditEvent): string {
  // Events read from the log have no position: only copy the object when one must go.
  if (!('position' in event)) return JSON.stringify(event);
  const { position: _position, ...rest } = event as AuditEvent & { position?: unknown };
  return JSON.stringify(rest);
}

/**
 * One event as one message, without framing and without a line break inside (every renderer escapes or
 * replaces them), so LF framing and one-datagram-per-message are both safe.
 * - CEF / LEEF: the payload as the MSG of an RFC 5424 (or 3164) line, or bare.
 * - RFC5424: the fields in structured data, the description as MSG.
 * - RFC3164: the event as JSON in MSG (3164 has no structured data).
 * - JSON: one JSON object, for receivers reading JSON lines.
 */
export function renderMessage(event: AuditEvent, options: RenderOptions): string {
  switch (options.format) {
    case 'CEF':
    case 'LEEF': {
      const payload = options.format === 'CEF' ? renderCef(event, options.producer) : renderLeef(event, options.producer);
      if (options.syslogHeader === 'none') return payload;
      if (options.syslogHeader === 'rfc3164') return renderRfc3164(event, options.header, payload);
      return renderRfc5424(event, options.header, '-', payload);
    }
    case 'RFC5424':
      return renderRfc5424(event, options.header, eventStructuredData(event, options.sdId), event.description);
    case 'RFC3164':
      return renderRfc3164(event, options.header, eventJson(event));
    case 'JSON':
      return eventJson(event);
  }
}

/** The formats of the HTTPS destinations: JSON lines, or Splunk HEC event envelopes. */
export const HTTPS_FORMATS = ['JSON', 'HEC'] as const;
export type HttpsFormat = (typeof HTTPS_FORMATS)[number];

/**
 * One event as a Splunk HTTP Event Collector envelope (services/collector/event): `time` in epoch seconds with
 * milliseconds, `host`, `source`, `sourcetype` and the event itself, so Splunk indexes it at the event's time.
 */
export function renderHec(event: AuditEvent, host: string): string {
  const ms = Date.parse(event.timestamp);
  return `{"time":${(ms / 1000).toFixed(3)},"host":${JSON.stringify(host)},"source":"homepot-audit","sourcetype":"homepot:audit","event":${eventJson(event)}}`;
}
