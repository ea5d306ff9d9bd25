import { isIP } from 'node:net';
import { InvalidQueryError, isKnownCategory, matchesEventFilter, parseEventFilter, Severity, ValidationError } from '@app/contracts';
import type { AuditEvent, EventFilter } from '@app/contracts';
import { FRAMINGS, Framing } from './core/framing';
import { HTTPS_FORMATS, HttpsFormat, SIEM_FORMATS, SiemFormat, SYSLOG_HEADERS, SyslogHeaderKind } from './core/render';
import { TRANSPORTS, Transport } from './transport/syslog-sender';

/** `syslog` (UDP, TCP, TLS); `https` (JSON lines over HTTPS) and `hec` (Splunk HTTP Event Collector envelopes). */
export const INTEGRATION_TYPES = ['syslog', 'https', 'hec'] as const;
export type IntegrationType = (typeof INTEGRATION_TYPES)[number];

/**
 * Which events an integration forwards, in the search's terms (GET /audit/events): every condition given must
 * hold. Stored normalized; `toEventFilter` turns it into the EventFilter the shared matcher reads.
 */
export interface IntegrationFilter {
  /** Empty: every severity. */
  severities: Severity[];
  /** Canonical names (aliases such as `security` are mapped); empty: every category. */
  categories: string[];
  event_types: string[];
  /** `metadata.<key>` equals the value (nested keys dotted, as the search flattens them). */
  metadata: Record<string, string>;
  source?: string;
  ip_address?: string;
  session_id?: string;
  /** Case-insensitive text in the description (the search's `q`). */
  q?: string;
}

/** What a client sets on an integration (the body of POST, every field of PATCH optional). */
export interface IntegrationSettings {
  name: string;
  type: IntegrationType;
  /** syslog: `host:port`, `[v6]:port`; https and hec: an https URL. */
  destination: string;
  transport: Transport;
  framing: Framing;
  /** syslog: CEF, LEEF, RFC5424, RFC3164, JSON; https and hec: JSON (lines) or HEC (envelopes). */
  format: SiemFormat | HttpsFormat;
  /** https and hec: the token sent in `token_header` (sealed at rest, redacted in answers). */
  token?: string;
  /** https and hec: `Authorization` by default (then `Splunk <token>` for hec, `Bearer <token>` for https). */
  token_header: string;
  /** https and hec: messages per POST. */
  batch_max_events: number;
  syslog_header: SyslogHeaderKind;
  facility: number;
  hostname: string;
  max_datagram_bytes: number;
  /** `key` is the client certificate's private key: sealed at rest, redacted in every answer. */
  tls: { ca?: string; servername?: string; cert?: string; key?: string } | null;
  filter: IntegrationFilter;
}

export type IntegrationStatus = 'active' | 'paused';

export interface Integration extends IntegrationSettings {
  id: string;
  tenant_id: string;
  status: IntegrationStatus;
  created_at: string;
  updated_at: string;
}

export interface IntegrationHealth {
  state: 'idle' | 'delivering' | 'unreachable' | 'paused';
  sent: number;
  failed: number;
  retried: number;
  truncated: number;
  /** Events read from the log and not yet delivered (this integration's consumer group). */
  lag_events: number;
  /** Age of the oldest event waiting for this integration (0 when none waits). */
  lag_seconds: number;
  /** Set while that age is past AUDIT_SIEM_LAG_WARN_PERCENT of the log's hot window (AUDIT_LOG_HOT_DAYS). */
  lag_warning: string | null;
  last_success_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
}

export const DEFAULTS: Omit<IntegrationSettings, 'name' | 'type' | 'destination' | 'format'> = {
  transport: 'tcp',
  framing: 'octet-counting',
  syslog_header: 'rfc5424',
  facility: 13,
  hostname: 'homepot-audit',
  max_datagram_bytes: 2048,
  token_header: 'Authorization',
  batch_max_events: 100,
  tls: null,
  filter: { severities: [], categories: [], event_types: [], metadata: {} },
};

const SETTABLE = new Set([
  'name',
  'type',
  'destination',
  'transport',
  'framing',
  'format',
  'syslog_header',
  'facility',
  'hostname',
  'max_datagram_bytes',
  'tls',
  'filter',
  'token',
  'token_header',
  'batch_max_events',
]);

export const isHttps = (s: Pick<IntegrationSettings, 'type'>): boolean => s.type === 'https' || s.type === 'hec';

/** An https URL without credentials (the token goes in its header, never in the URL). */
export function parseHttpsUrl(value: unknown): URL {
  let u: URL | undefined;
  try {
    u = typeof value === 'string' && value.length <= 2000 ? new URL(value) : undefined;
  } catch {
    u = undefined;
  }
  if (!u || u.protocol !== 'https:' || u.hostname === '') bad('destination', 'must be an https URL for type https or hec');
  if (u.username !== '' || u.password !== '') bad('destination', 'must not carry credentials: give the token in `token`');
  return u;
}

function bad(field: string, message: string): never {
  throw new ValidationError(`${field}: ${message}`, [{ field, message }]);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[], normalize: (s: string) => string = (s) => s): T {
  if (typeof value !== 'string' || !allowed.includes(normalize(value) as T)) bad(field, `must be one of ${allowed.join(', ')}`);
  return normalize(value) as T;
}

/** `host:port` or `[v6]:port`; the host is checked against AUDIT_OUTBOUND_ALLOW when connecting, not here. */
export function parseDestination(value: unknown): { host: string; port: number } {
  if (typeof value !== 'string' || value.length > 300) bad('destination', 'must be "host:port"');
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  if (!m) bad('destination', 'must be "host:port" (an IPv6 address in brackets)');
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port < 1 || port > 65535) bad('destination', 'port must be between 1 and 65535');
  if (m[1] !== undefined && isIP(host) !== 6) bad('destination', 'the bracketed host must be an IPv6 address');
  if (m[2] !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host))
    bad('destination', 'the host must be a host name or an address');
  return { host, port };
}

function stringList(field: string, value: unknown, max = 100): string[] {
  if (!Array.isArray(value) || value.length > max || value.some((v) => typeof v !== 'string' || v === '' || v.length > 200))
    bad(field, `must be a list of at most ${max} non-empty strings`);
  return value as string[];
}

/** The guide's list fields, and the search parameters (GET /audit/events) that make sense for a stream of events. */
const LIST_FIELDS: Record<string, string> = { severities: 'severity', categories: 'category', event_types: 'event_type' };
const SEARCH_FIELDS = ['severity', 'category', 'event_type', 'source', 'ip_address', 'session_id', 'q', 'search'];

/**
 * The filter: the guide's lists (`severities`, `categories`, `event_types`) and the search grammar's parameters
 * (`severity`, `category`, `event_type` as comma lists, `metadata.<key>`, `source`, `ip_address`, `session_id`,
 * `q`), read by the search's own parser (parseEventFilter), so an integration filters exactly as a search does.
 * Time bounds and paging are refused: an integration forwards what arrives from now on.
 */
function parseFilter(value: unknown): IntegrationFilter {
  if (!isObject(value)) bad('filter', 'must be an object');
  const query: Record<string, unknown> = {};
  const add = (param: string, v: unknown): void => {
    const list = Array.isArray(v) ? v : [v];
    query[param] = [...((query[param] as unknown[] | undefined) ?? []), ...list];
  };
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const field = `filter.${k}`;
    if (k in LIST_FIELDS) add(LIST_FIELDS[k], stringList(field, v));
    else if (SEARCH_FIELDS.includes(k) || k.startsWith('metadata.')) {
      if (Array.isArray(v) ? v.some((x) => typeof x !== 'string') : typeof v !== 'string')
        bad(field, 'must be a string or a list of strings');
      if (k.startsWith('metadata.') || ['severity', 'category', 'event_type'].includes(k)) add(k, v);
      else if (Array.isArray(v)) bad(field, 'must be a single string');
      else query[k === 'search' ? 'q' : k] = v;
    } else
      bad(
        field,
        'is not a filter field; allowed: severities, categories, event_types, and the search parameters severity, category, event_type, metadata.<key>, source, ip_address, session_id, q',
      );
  }
  let filter: EventFilter;
  try {
    filter = parseEventFilter(query, 0, false).filter;
  } catch (e) {
    if (!(e instanceof InvalidQueryError)) throw e;
    // An error on a list given in the guide's form (`severities`) names that form.
    const named = (f: string): string => Object.keys(LIST_FIELDS).find((k) => LIST_FIELDS[k] === f && k in value && !(f in value)) ?? f;
    const details = e.details.map((d) => ({ ...d, field: `filter.${named(d.field ?? '')}` }));
    throw new ValidationError(details.map((d) => `${d.field}: ${d.message}`).join('; '), details);
  }
  for (const c of values(query.category))
    if (!isKnownCategory(c)) bad('filter.categories', `'${c}' is not a category or an alias of one (GET /audit/event-types)`);
  const metadata: Record<string, string> = {};
  for (const [k, v] of filter.metadata) {
    if (metadata[k] !== undefined && metadata[k] !== v) bad(`filter.metadata.${k}`, 'two values for one key would match nothing');
    metadata[k] = v;
  }
  return {
    severities: [...new Set(filter.severities)],
    categories: [...new Set(filter.categories)],
    event_types: [...new Set(filter.eventTypes)],
    metadata,
    ...(filter.source !== undefined ? { source: filter.source } : {}),
    ...(filter.ipAddress !== undefined ? { ip_address: filter.ipAddress } : {}),
    ...(filter.sessionId !== undefined ? { session_id: filter.sessionId } : {}),
    ...(filter.text !== undefined ? { q: filter.text } : {}),
  };
}

const values = (raw: unknown): string[] =>
  ((raw as unknown[] | undefined) ?? [])
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '' && v !== 'all');

/** The stored filter as the shared matcher's EventFilter (a filter stored before `metadata` existed has none). */
export function toEventFilter(f: IntegrationFilter): EventFilter {
  return {
    severities: f.severities,
    categories: f.categories,
    eventTypes: f.event_types,
    metadata: Object.entries(f.metadata ?? {}),
    ...(f.source !== undefined ? { source: f.source } : {}),
    ...(f.ip_address !== undefined ? { ipAddress: f.ip_address } : {}),
    ...(f.session_id !== undefined ? { sessionId: f.session_id } : {}),
    ...(f.q !== undefined ? { text: f.q } : {}),
  };
}

/** What an answer shows for a secret that is set (the value itself never leaves the forwarder). */
export const REDACTED = '[redacted]';

function parseTls(value: unknown, base: IntegrationSettings['tls'] | undefined): IntegrationSettings['tls'] {
  if (value === null) return null;
  if (!isObject(value)) bad('tls', 'must be an object or null');
  for (const k of Object.keys(value))
    if (!['ca', 'servername', 'cert', 'key'].includes(k)) bad(`tls.${k}`, 'is not a TLS setting (ca, servername, cert, key)');
  const pem = (v: unknown, kind: RegExp): boolean => typeof v === 'string' && kind.test(v) && v.length <= 200_000;
  if (value.ca !== undefined && !pem(value.ca, /-----BEGIN CERTIFICATE-----/)) bad('tls.ca', 'must be a PEM certificate bundle');
  if (value.cert !== undefined && !pem(value.cert, /-----BEGIN CERTIFICATE-----/)) bad('tls.cert', 'must be a PEM certificate (chain)');
  // Sending back the redacted value of an answer keeps the stored key.
  const key = value.key === REDACTED ? base?.key : value.key;
  if (value.key === REDACTED && key === undefined) bad('tls.key', 'no key is stored to keep: give the PEM private key');
  if (key !== undefined && !pem(key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/)) bad('tls.key', 'must be a PEM private key');
  if ((value.cert === undefined) !== (key === undefined))
    bad(value.cert === undefined ? 'tls.cert' : 'tls.key', 'the client certificate and its key go together');
  if (value.servername !== undefined && (typeof value.servername !== 'string' || !/^[A-Za-z0-9.-]{1,253}$/.test(value.servername)))
    bad('tls.servername', 'must be a host name');
  return {
    ...(value.ca !== undefined ? { ca: value.ca as string } : {}),
    ...(value.servername !== undefined ? { servername: value.servername as string } : {}),
    ...(value.cert !== undefined ? { cert: value.cert as string, key: key as string } : {}),
  };
}

/** The secret fields of the settings: what is sealed at rest and redacted in answers. */
const SECRETS: Array<{ get(s: IntegrationSettings): string | undefined; set(s: IntegrationSettings, v: string): IntegrationSettings }> = [
  { get: (s) => s.tls?.key, set: (s, v) => ({ ...s, tls: { ...s.tls, key: v } }) },
  { get: (s) => s.token, set: (s, v) => ({ ...s, token: v }) },
];

/** The settings with every secret mapped (sealed for the store, opened from it, or redacted for an answer). */
export function mapSecrets(settings: IntegrationSettings, f: (secret: string) => string): IntegrationSettings {
  let out = settings;
  for (const s of SECRETS) {
    const v = s.get(out);
    if (v !== undefined) out = s.set(out, f(v));
  }
  return out;
}

/**
 * Validates a create (every required field) or an update (`base` given: only the fields present change). Unknown
 * fields are refused by name, so a typo (`severity` for `filter.severities`) is not silently ignored.
 */
export function parseIntegrationSettings(body: unknown, base?: IntegrationSettings): IntegrationSettings {
  if (!isObject(body)) bad('/', 'the body must be a JSON object');
  for (const k of Object.keys(body)) if (!SETTABLE.has(k)) bad(k, 'is not an integration field');
  const has = (k: string): boolean => body[k] !== undefined;
  if (!base) for (const k of ['type', 'destination']) if (!has(k)) bad(k, 'is required');
  if (!base && body.type === 'syslog' && !has('format')) bad('format', 'is required');
  const out: IntegrationSettings = base
    ? { ...base, filter: { ...base.filter } }
    : { ...DEFAULTS, name: '', type: 'syslog', destination: '', format: 'CEF', filter: { ...DEFAULTS.filter } };
  if (has('type')) out.type = oneOf('type', body.type, INTEGRATION_TYPES);
  if (!base && isHttps(out) && !has('format')) out.format = out.type === 'hec' ? 'HEC' : 'JSON';
  if (has('destination') || (base && has('type'))) {
    if (isHttps(out)) parseHttpsUrl(has('destination') ? body.destination : out.destination);
    else parseDestination(has('destination') ? body.destination : out.destination);
    if (has('destination')) out.destination = body.destination as string;
  }
  if (has('format'))
    out.format = isHttps(out)
      ? oneOf('format', body.format, HTTPS_FORMATS, (s) => s.toUpperCase())
      : oneOf('format', body.format, SIEM_FORMATS, (s) => s.toUpperCase());
  if (has('token')) {
    if (body.token === REDACTED && out.token !== undefined) {
      // The redacted value of an answer sent back: keep the stored token.
    } else if (typeof body.token !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(body.token))
      bad('token', 'must be 1..4096 printable ASCII characters');
    else out.token = body.token;
  }
  if (has('token_header')) {
    if (typeof body.token_header !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(body.token_header))
      bad('token_header', 'must be an HTTP header name');
    out.token_header = body.token_header;
  }
  if (has('batch_max_events')) {
    const n = body.batch_max_events;
    if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 10_000) bad('batch_max_events', 'must be an integer 1..10000');
    out.batch_max_events = n as number;
  }
  if (isHttps(out) && !(HTTPS_FORMATS as readonly string[]).includes(out.format))
    bad('format', `must be one of ${HTTPS_FORMATS.join(', ')} for type ${out.type}`);
  if (!isHttps(out) && (out.format === 'HEC' || out.token !== undefined))
    bad(out.format === 'HEC' ? 'format' : 'token', 'is only for type https or hec');
  if (has('transport')) out.transport = oneOf('transport', body.transport, TRANSPORTS, (s) => s.toLowerCase());
  if (has('framing')) out.framing = oneOf('framing', body.framing, FRAMINGS);
  if (has('syslog_header')) out.syslog_header = oneOf('syslog_header', body.syslog_header, SYSLOG_HEADERS);
  if (has('facility')) {
    if (!Number.isInteger(body.facility) || (body.facility as number) < 0 || (body.facility as number) > 23)
      bad('facility', 'must be an integer 0..23');
    out.facility = body.facility as number;
  }
  if (has('hostname')) {
    if (typeof body.hostname !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(body.hostname))
      bad('hostname', 'must be 1..255 printable ASCII characters');
    out.hostname = body.hostname;
  }
  if (has('max_datagram_bytes')) {
    const n = body.max_datagram_bytes;
    // 480 is the size every syslog transport must carry (RFC 5424 §6.1); 65000 stays under the UDP limit.
    if (!Number.isInteger(n) || (n as number) < 480 || (n as number) > 65_000) bad('max_datagram_bytes', 'must be an integer 480..65000');
    out.max_datagram_bytes = n as number;
  }
  if (has('tls')) out.tls = parseTls(body.tls, base?.tls);
  if (has('filter')) out.filter = parseFilter(body.filter);
  if (has('name')) {
    if (typeof body.name !== 'string' || body.name.length > 200) bad('name', 'must be a string of at most 200 characters');
    out.name = body.name;
  }
  if (out.name === '') out.name = `${out.type} ${out.destination}`;
  if (out.transport === 'tls' && out.tls === null) out.tls = {};
  if (!isHttps(out) && out.transport !== 'tls' && out.tls !== null && Object.keys(out.tls).length > 0)
    bad('tls', `is only for transport tls, not ${out.transport}`);
  return out;
}

/** Whether an event goes to an integration: its tenant, and the filter as the search reads it (matchesEventFilter). */
export function matches(tenantId: string, filter: EventFilter, event: AuditEvent): boolean {
  return event.tenant_id === tenantId && matchesEventFilter(event, filter);
}
