/** Timestamps travel as ISO 8601 strings in UTC with microseconds: 2025-09-01T15:30:45.123456Z. */

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$/;

export const HOUR_US = 3600e6;
export const DAY_US = 24 * HOUR_US;

/** The earliest producer time accepted; older values are almost always unit mistakes (seconds vs ms). */
export const MIN_TIMESTAMP_US = Date.UTC(2000, 0, 1) * 1000;
/** Producer clocks may run ahead; beyond this the value is refused rather than stored in the future. */
export const MAX_FUTURE_SKEW_US = DAY_US;

/** Microseconds since the epoch, or undefined when the text is not an ISO 8601 date-time. */
export function parseTimestampMicros(text: string): number | undefined {
  const m = ISO_RE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    return undefined;
  }
  const ms = Date.UTC(Number(y), month - 1, day, Number(h), Number(mi), Number(s));
  const probe = new Date(ms);
  if (probe.getUTCDate() !== day) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  const micros = Number((frac + '000000').slice(0, 6));
  return (ms - offsetMinutes * 60_000) * 1000 + micros;
}

let cachedSecond = NaN;
let cachedPrefix = '';

export function formatMicros(us: number): string {
  const second = Math.floor(us / 1_000_000);
  // Events arrive in bursts within the same second: reuse its date-time text (toISOString was a top cost).
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  const micros = String(Math.floor(us) - second * 1_000_000).padStart(6, '0');
  return `${cachedPrefix}.${micros}Z`;
}

/** ClickHouse DateTime64(6) literal: 2025-09-01 15:30:45.123456 */
export function microsToClickHouse(us: number): string {
  return formatMicros(us).slice(0, 26).replace('T', ' ');
}

export function clickHouseToIso(text: string): string {
  return `${text.replace(' ', 'T')}${text.includes('.') ? '' : '.000000'}Z`;
}

let lastMicros = 0;
/**
 * Wall-clock microseconds, strictly increasing within the process. Built on Date.now(), not
 * performance.now(): the monotonic clock does not count time a VM spent suspended and drifts from the wall.
 */
export function nowMicros(): number {
  const us = Date.now() * 1000;
  lastMicros = us > lastMicros ? us : lastMicros + 1;
  return lastMicros;
}
