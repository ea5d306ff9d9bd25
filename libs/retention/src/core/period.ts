/**
 * A retention length: calendar years and months plus days. `retention_days: 2555` is P2555D, which is one or
 * two days short of seven calendar years (seven consecutive years hold one or two 29 Februaries), so a
 * policy that must keep "seven years" says `retention_period: "P7Y"` and the cut-off moves with the calendar.
 */
export interface Period {
  years: number;
  months: number;
  days: number;
}

const ISO_PERIOD = /^P(?:(\d{1,3})Y)?(?:(\d{1,4})M)?(?:(\d{1,3})W)?(?:(\d{1,5})D)?$/;

/** An ISO 8601 date period (PnYnMnWnD, no time part), or undefined when `text` is not one or is zero. */
export function parsePeriod(text: string): Period | undefined {
  const m = ISO_PERIOD.exec(text);
  if (!m || text === 'P') return undefined;
  const p = { years: Number(m[1] ?? 0), months: Number(m[2] ?? 0), days: Number(m[3] ?? 0) * 7 + Number(m[4] ?? 0) };
  return isZero(p) ? undefined : p;
}

export const days = (n: number): Period => ({ years: 0, months: 0, days: n });

export function isZero(p: Period): boolean {
  return p.years === 0 && p.months === 0 && p.days === 0;
}

export function formatPeriod(p: Period): string {
  return `P${p.years ? `${p.years}Y` : ''}${p.months ? `${p.months}M` : ''}${p.days || isZero(p) ? `${p.days}D` : ''}`;
}

/**
 * `at` minus the period, in UTC. Calendar months are subtracted first and a day past the month's end is clamped
 * to its last day (31 March minus P1M is 28 or 29 February, not 3 March): the earlier cut-off keeps more.
 */
export function subtractPeriod(at: Date, p: Period): Date {
  const totalMonths = at.getUTCFullYear() * 12 + at.getUTCMonth() - p.years * 12 - p.months;
  const year = Math.floor(totalMonths / 12);
  const month = totalMonths - year * 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(at.getUTCDate(), lastDay);
  const ms = at.getTime() % 86_400_000;
  return new Date(Date.UTC(year, month, day) - p.days * 86_400_000 + (ms < 0 ? ms + 86_400_000 : ms));
}

/** Whether `a` keeps less than `b` at `now` (its cut-off is later). */
export function shorterAt(a: Period, b: Period, now: Date): boolean {
  return subtractPeriod(now, a).getTime() > subtractPeriod(now, b).getTime();
}
