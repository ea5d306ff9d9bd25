import { ErrorDetail, ValidationError } from '@app/contracts';
import { parseReportRequest } from './requests';

export const FREQUENCIES = ['daily', 'weekly', 'monthly'] as const;
export type Frequency = (typeof FREQUENCIES)[number];
export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** When a schedule runs, in UTC only (no time zones, so no daylight-saving gaps or repeats). */
export interface ScheduleSpec {
  frequency: Frequency;
  /** Minutes after midnight UTC. */
  minuteOfDay: number;
  /** weekly: the ISO weekday, 1 = Monday. */
  isoWeekday?: number;
  /** monthly: 1 to 28, so every month has it. */
  dayOfMonth?: number;
}

export interface ScheduleDefinition {
  name: string;
  spec: ScheduleSpec;
  /** The report body without its period (each run's period is the previous whole day, week or month). */
  report: Record<string, unknown>;
  delivery: { webhook: string | null; email: string[] };
  paused: boolean;
  /** Why the service paused it (its owner's API key was revoked); absent when a person paused it. */
  paused_reason?: string;
}

const DAY_MS = 86_400_000;
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;
const isoWeekday = (ms: number): number => ((new Date(ms).getUTCDay() + 6) % 7) + 1;
const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function monthly(year: number, month: number, spec: ScheduleSpec): number {
  return Date.UTC(year, month, spec.dayOfMonth ?? 1) + spec.minuteOfDay * 60_000;
}

/** The slot due at `nowMs`: the latest scheduled instant at or before it (its id for claiming a run). */
export function slotFor(spec: ScheduleSpec, nowMs: number): number {
  const offset = spec.minuteOfDay * 60_000;
  const today = dayStart(nowMs);
  if (spec.frequency === 'daily') {
    const t = today + offset;
    return t <= nowMs ? t : t - DAY_MS;
  }
  if (spec.frequency === 'weekly') {
    const back = (isoWeekday(today) - (spec.isoWeekday ?? 1) + 7) % 7;
    const t = today - back * DAY_MS + offset;
    return t <= nowMs ? t : t - 7 * DAY_MS;
  }
  const d = new Date(nowMs);
  const t = monthly(d.getUTCFullYear(), d.getUTCMonth(), spec);
  return t <= nowMs ? t : monthly(d.getUTCFullYear(), d.getUTCMonth() - 1, spec);
}

/** The first scheduled instant strictly after `afterMs`. */
export function nextRun(spec: ScheduleSpec, afterMs: number): number {
  const slot = slotFor(spec, afterMs);
  if (spec.frequency === 'daily') return slot + DAY_MS;
  if (spec.frequency === 'weekly') return slot + 7 * DAY_MS;
  const d = new Date(slot);
  return monthly(d.getUTCFullYear(), d.getUTCMonth() + 1, spec);
}

/**
 * The period a run covers: the previous whole UTC day, ISO week (Monday to Sunday) or calendar month before the
 * slot's day, week or month, as dates (the report parser reads a date as the whole day: end is inclusive).
 */
export function periodFor(spec: ScheduleSpec, slotMs: number): { start: string; end: string } {
  const day = dayStart(slotMs);
  if (spec.frequency === 'daily') return { start: isoDate(day - DAY_MS), end: isoDate(day - DAY_MS) };
  if (spec.frequency === 'weekly') {
    const monday = day - (isoWeekday(day) - 1) * DAY_MS;
    return { start: isoDate(monday - 7 * DAY_MS), end: isoDate(monday - DAY_MS) };
  }
  const d = new Date(slotMs);
  const first = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return { start: isoDate(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)), end: isoDate(first - DAY_MS) };
}

const SCHEDULE_FIELDS = ['name', 'frequency', 'time', 'weekday', 'day_of_month', 'report', 'delivery', 'paused'];
const EMAIL = /^[^\s@,<>"]+@[^\s@,<>"]+$/;

/**
 * POST /audit/reports/schedules's body (or PUT's, merged over the stored one by the caller): every wrong field
 * named in one 400. The report is checked with the report parser, with a placeholder period (it has none).
 * The webhook URL's syntax and policy are checked by the alerting capability, which delivers.
 */
export function parseScheduleDefinition(input: unknown, nowUs: number): ScheduleDefinition {
  const errors: ErrorDetail[] = [];
  if (!isObject(input))
    throw new ValidationError('invalid schedule: the body must be a JSON object', [{ field: '/', message: 'must be an object' }]);
  for (const k of Object.keys(input))
    if (!SCHEDULE_FIELDS.includes(k)) errors.push({ field: k, message: `unknown field; allowed: ${SCHEDULE_FIELDS.join(', ')}` });
  const name = input.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200 || /[\r\n]/.test(name))
    errors.push({ field: 'name', message: 'required: a name of at most 200 characters, one line' });
  const frequency = input.frequency as Frequency;
  if (!(FREQUENCIES as readonly unknown[]).includes(frequency))
    errors.push({ field: 'frequency', message: `required: ${FREQUENCIES.join(', ')}` });
  let minuteOfDay = 0;
  const time = input.time ?? '00:00';
  const m = typeof time === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(time) : null;
  if (!m) errors.push({ field: 'time', message: 'must be HH:MM, UTC (00:00 to 23:59)' });
  else minuteOfDay = Number(m[1]) * 60 + Number(m[2]);
  const spec: ScheduleSpec = { frequency, minuteOfDay };
  if (input.weekday !== undefined && frequency !== 'weekly') errors.push({ field: 'weekday', message: 'only for a weekly schedule' });
  if (input.day_of_month !== undefined && frequency !== 'monthly')
    errors.push({ field: 'day_of_month', message: 'only for a monthly schedule' });
  if (frequency === 'weekly') {
    const w = input.weekday ?? 'monday';
    const idx = WEEKDAYS.indexOf(String(w).toLowerCase() as Weekday);
    if (typeof w !== 'string' || idx < 0) errors.push({ field: 'weekday', message: `must be one of ${WEEKDAYS.join(', ')}` });
    spec.isoWeekday = idx + 1;
  }
  if (frequency === 'monthly') {
    const d = input.day_of_month ?? 1;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 28)
      errors.push({ field: 'day_of_month', message: 'must be a whole number from 1 to 28 (every month has it)' });
    spec.dayOfMonth = d as number;
  }
  const report = input.report;
  if (!isObject(report)) errors.push({ field: 'report', message: 'required: the POST /audit/reports body without period' });
  else if (report.period !== undefined) errors.push({ field: 'report.period', message: 'a schedule sets each run’s period; leave it out' });
  else {
    try {
      parseReportRequest({ ...report, period: { start: '2000-01-01', end: '2000-01-02' } }, nowUs);
    } catch (e) {
      for (const d of (e as ValidationError).details ?? [{ field: '', message: (e as Error).message }])
        errors.push({ field: `report.${d.field}`, message: d.message });
    }
  }
  const delivery = { webhook: null as string | null, email: [] as string[] };
  const dv = input.delivery;
  if (dv !== undefined && dv !== null) {
    if (!isObject(dv)) errors.push({ field: 'delivery', message: 'must be { "webhook": URL, "email": [addresses] } or left out' });
    else {
      for (const k of Object.keys(dv))
        if (k !== 'webhook' && k !== 'email') errors.push({ field: `delivery.${k}`, message: 'unknown field' });
      if (dv.webhook !== undefined && dv.webhook !== null) {
        if (typeof dv.webhook !== 'string' || dv.webhook === '') errors.push({ field: 'delivery.webhook', message: 'must be a URL' });
        else delivery.webhook = dv.webhook;
      }
      const email = typeof dv.email === 'string' ? [dv.email] : (dv.email ?? []);
      if (!Array.isArray(email) || email.length > 50 || email.some((a) => typeof a !== 'string' || !EMAIL.test(a)))
        errors.push({ field: 'delivery.email', message: 'must be an address or a list of at most 50 addresses' });
      else delivery.email = [...new Set(email as string[])];
    }
  }
  const paused = input.paused ?? false;
  if (typeof paused !== 'boolean') errors.push({ field: 'paused', message: 'must be true or false' });
  if (errors.length > 0) throw new ValidationError(`invalid schedule: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  return { name: (name as string).trim(), spec, report: report as Record<string, unknown>, delivery, paused: paused as boolean };
}

/** The definition as the API shows it (the body's own names). */
export function presentSpec(spec: ScheduleSpec): Record<string, unknown> {
  const hh = String(Math.floor(spec.minuteOfDay / 60)).padStart(2, '0');
  const mm = String(spec.minuteOfDay % 60).padStart(2, '0');
  return {
    frequency: spec.frequency,
    time: `${hh}:${mm}`,
    ...(spec.frequency === 'weekly' ? { weekday: WEEKDAYS[(spec.isoWeekday ?? 1) - 1] } : {}),
    ...(spec.frequency === 'monthly' ? { day_of_month: spec.dayOfMonth } : {}),
  };
}
