import { isIP } from 'node:net';
import { ErrorDetail, findEventType, METADATA_KEY_RE, parseTimestampMicros, SEVERITIES, Severity, ValidationError } from '@app/contracts';
import type { OutboundPolicy } from '@app/runtime';
import { parseEventFilter } from '@app/query';
import { GROUP_BY_FIELDS } from './evaluate';

/** time_window bounds: under 10 s is noise for an audit log, over 7 days the state a group holds grows without use. */
export const WINDOW_BOUNDS = { min: 10, max: 7 * 86_400 } as const;
/** A group holds its newest `threshold` event ids in the rule's state: this bounds the state per group. */
export const MAX_THRESHOLD = 10_000;
export const MAX_COOLDOWN = 7 * 86_400;
export const MAX_GROUP_BY = 3;

export interface Silence {
  start: string;
  end: string;
  reason: string;
}

/** A rule's definition as stored (snake_case, the API's names). */
export interface RuleDefinition {
  alert_name: string;
  event_types: string[];
  threshold: number;
  time_window: number;
  notification: { email: string[]; webhook: string | null };
  /** Filters in the search grammar: category, severity, metadata.<key> (values comma lists like the query). */
  filter: Record<string, string>;
  group_by: string[];
  severity: Severity;
  cooldown: number;
  enabled: boolean;
  silences: Silence[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$/;
// Deliberately plain: one @, no spaces, no CR/LF (a header injection), a dot in the domain.
const EMAIL_RE = /^[^\s@<>(),;:"[\]\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/;
const ALLOWED_KEYS = [
  'alert_name',
  'event_types',
  'threshold',
  'time_window',
  'notification',
  'filter',
  'group_by',
  'severity',
  'cooldown',
  'enabled',
  'silences',
];
const FILTER_KEYS = ['category', 'severity'];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The webhook URL at creation: syntax, http(s), no credentials, and an IP literal checked against the outbound
 * policy. A host name is resolved and checked at each delivery instead (and the address pinned), because DNS
 * may change after creation and because the guide's https://alerts.company.com/webhook must be accepted even
 * where it does not resolve.
 */
export function checkWebhookUrl(
  raw: unknown,
  policy: OutboundPolicy,
  errors: ErrorDetail[],
  field = 'notification.webhook',
): string | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw !== 'string' || raw.length > 2048) {
    errors.push({ field, message: 'must be a URL of at most 2048 characters' });
    return null;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    errors.push({ field, message: 'is not a valid URL' });
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    errors.push({ field, message: 'must use https (or http)' });
    return null;
  }
  if (url.username || url.password) {
    errors.push({ field, message: 'must not carry credentials' });
    return null;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (isIP(host)) {
    const why = policy.refusal(host, host);
    if (why) {
      errors.push({ field, message: why });
      return null;
    }
  }
  return url.toString();
}

function intField(
  body: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
  def: number | undefined,
  errors: ErrorDetail[],
): number {
  const v = body[key];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    errors.push({ field: key, message: `must be a whole number between ${min} and ${max}` });
    return def ?? min;
  }
  return v;
}

function stringList(v: unknown, field: string, errors: ErrorDetail[], max = 50): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > max || v.some((x) => typeof x !== 'string' || x === '' || x.length > 200)) {
    errors.push({ field, message: `must be a list of at most ${max} non-empty strings` });
    return [];
  }
  return [...new Set(v as string[])];
}

/**
 * A rule from a POST body (or a PATCH merged over the stored definition): every wrong field is named in one
 * 400. Event types the catalogue does not know are allowed (custom types exist) and returned to be shown.
 */
export function parseRuleDefinition(
  input: unknown,
  policy: OutboundPolicy,
  base?: RuleDefinition,
): { definition: RuleDefinition; unknownEventTypes: string[] } {
  const errors: ErrorDetail[] = [];
  if (!isObject(input)) throw new ValidationError('the body must be a JSON object', [{ field: '/', message: 'must be an object' }]);
  for (const k of Object.keys(input)) {
    if (!ALLOWED_KEYS.includes(k)) errors.push({ field: k, message: `unknown field; allowed: ${ALLOWED_KEYS.join(', ')}` });
  }
  const body: Record<string, unknown> = { ...(base ?? {}), ...input };
  if (base && isObject(input.notification)) body.notification = { ...base.notification, ...input.notification };

  const name = body.alert_name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    errors.push({ field: 'alert_name', message: 'must be 1-100 letters, digits, spaces, dots, dashes or underscores' });
  }
  const eventTypes = stringList(body.event_types, 'event_types', errors);
  if (eventTypes.some((t) => !/^[a-z][a-z0-9_.-]{0,63}$/.test(t))) {
    errors.push({ field: 'event_types', message: 'each must match ^[a-z][a-z0-9_.-]{0,63}$' });
  }
  const threshold = intField(body, 'threshold', 1, MAX_THRESHOLD, undefined, errors);
  const timeWindow = intField(body, 'time_window', WINDOW_BOUNDS.min, WINDOW_BOUNDS.max, undefined, errors);
  const cooldown = intField(body, 'cooldown', 0, MAX_COOLDOWN, 0, errors);

  let email: string[] = [];
  let webhook: string | null = null;
  const n = body.notification;
  if (n !== undefined && !isObject(n)) errors.push({ field: 'notification', message: 'must be an object with email and/or webhook' });
  else if (isObject(n)) {
    for (const k of Object.keys(n))
      if (k !== 'email' && k !== 'webhook') errors.push({ field: `notification.${k}`, message: 'unknown field' });
    const raw = n.email === undefined || n.email === null ? [] : Array.isArray(n.email) ? n.email : [n.email];
    if (raw.length > 10 || raw.some((e) => typeof e !== 'string' || !EMAIL_RE.test(e))) {
      errors.push({ field: 'notification.email', message: 'must be an e-mail address (or a list of at most 10)' });
    } else email = [...new Set(raw as string[])];
    webhook = checkWebhookUrl(n.webhook, policy, errors);
  }

  const filter: Record<string, string> = {};
  if (body.filter !== undefined) {
    if (!isObject(body.filter)) errors.push({ field: 'filter', message: 'must be an object of category, severity, metadata.<key>' });
    else {
      for (const [k, v] of Object.entries(body.filter)) {
        if (!FILTER_KEYS.includes(k) && !k.startsWith('metadata.')) {
          errors.push({ field: `filter.${k}`, message: 'unknown filter; allowed: category, severity, metadata.<key>' });
        } else if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
          errors.push({ field: `filter.${k}`, message: 'must be a string' });
        } else filter[k] = String(v);
      }
      try {
        parseEventFilter(filter, 0, false);
      } catch (e) {
        const details = (e as { details?: ErrorDetail[] }).details ?? [];
        for (const d of details) errors.push({ field: `filter.${d.field}`, message: d.message });
        if (details.length === 0) errors.push({ field: 'filter', message: (e as Error).message });
      }
    }
  }

  const groupBy = stringList(body.group_by, 'group_by', errors, MAX_GROUP_BY);
  for (const k of groupBy) {
    const ok = (GROUP_BY_FIELDS as readonly string[]).includes(k) || (k.startsWith('metadata.') && METADATA_KEY_RE.test(k.slice(9)));
    if (!ok)
      errors.push({
        field: 'group_by',
        message: `unknown key '${k.slice(0, 80)}'; allowed: ${GROUP_BY_FIELDS.join(', ')}, metadata.<key>`,
      });
  }

  const severity = body.severity ?? 'warning';
  if (!SEVERITIES.includes(severity as Severity)) errors.push({ field: 'severity', message: `must be one of ${SEVERITIES.join(', ')}` });
  const enabled = body.enabled ?? true;
  if (typeof enabled !== 'boolean') errors.push({ field: 'enabled', message: 'must be true or false' });

  const silences: Silence[] = [];
  if (body.silences !== undefined) {
    if (!Array.isArray(body.silences) || body.silences.length > 50)
      errors.push({ field: 'silences', message: 'must be a list of at most 50' });
    else
      body.silences.forEach((s: unknown, i: number) => {
        const field = `silences[${i}]`;
        if (!isObject(s)) return errors.push({ field, message: 'must be { start, end, reason }' });
        const start = typeof s.start === 'string' ? parseTimestampMicros(s.start) : undefined;
        const end = typeof s.end === 'string' ? parseTimestampMicros(s.end) : undefined;
        if (start === undefined) return errors.push({ field: `${field}.start`, message: 'must be an ISO 8601 timestamp' });
        if (end === undefined || end <= start)
          return errors.push({ field: `${field}.end`, message: 'must be an ISO 8601 timestamp after start' });
        if (typeof s.reason !== 'string' || s.reason.trim() === '' || s.reason.length > 500) {
          return errors.push({ field: `${field}.reason`, message: 'must say why, in at most 500 characters' });
        }
        silences.push({ start: s.start as string, end: s.end as string, reason: s.reason });
      });
  }
  if (eventTypes.length === 0 && Object.keys(filter).length === 0 && errors.length === 0) {
    errors.push({ field: 'event_types', message: 'give event_types or a filter: a rule on every event is almost always a mistake' });
  }
  if (errors.length > 0)
    throw new ValidationError(`invalid alert rule: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  return {
    definition: {
      alert_name: name as string,
      event_types: eventTypes,
      threshold,
      time_window: timeWindow,
      notification: { email, webhook },
      filter,
      group_by: groupBy,
      severity: severity as Severity,
      cooldown,
      enabled: enabled as boolean,
      silences,
    },
    unknownEventTypes: eventTypes.filter((t) => !findEventType(t)),
  };
}
