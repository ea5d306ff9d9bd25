import { ValidationError } from '@app/contracts';
import { nextRun, parseScheduleDefinition, periodFor, presentSpec, ScheduleSpec, slotFor } from './schedule';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
const NOW_US = at('2026-03-10T12:00:00Z') * 1000;

describe('schedule slots', () => {
  const daily: ScheduleSpec = { frequency: 'daily', minuteOfDay: 6 * 60 + 30 };
  const weekly: ScheduleSpec = { frequency: 'weekly', minuteOfDay: 0, isoWeekday: 1 };
  const monthly: ScheduleSpec = { frequency: 'monthly', minuteOfDay: 60, dayOfMonth: 1 };

  it('should give a daily slot at its time of day, the previous day before that time', () => {
    expect(iso(slotFor(daily, at('2026-03-10T06:30:00Z')))).toBe('2026-03-10T06:30:00.000Z');
    expect(iso(slotFor(daily, at('2026-03-10T06:29:59.999Z')))).toBe('2026-03-09T06:30:00.000Z');
    expect(iso(nextRun(daily, at('2026-03-10T06:30:00Z')))).toBe('2026-03-11T06:30:00.000Z');
    expect(iso(nextRun(daily, at('2026-03-10T06:00:00Z')))).toBe('2026-03-10T06:30:00.000Z');
  });

  it('should stay on UTC across the European and American daylight-saving changes (no 23- or 25-hour days)', () => {
    for (const day of ['2026-03-08', '2026-03-29', '2026-10-25', '2026-11-01']) {
      const s = slotFor(daily, at(`${day}T12:00:00Z`));
      expect(nextRun(daily, s) - s).toBe(86_400_000);
    }
  });

  it('should give a weekly slot on its weekday, and a week later the next', () => {
    // 2026-03-10 is a Tuesday: the slot is Monday the 9th.
    expect(iso(slotFor(weekly, at('2026-03-10T12:00:00Z')))).toBe('2026-03-09T00:00:00.000Z');
    expect(iso(slotFor(weekly, at('2026-03-09T00:00:00Z')))).toBe('2026-03-09T00:00:00.000Z');
    expect(iso(nextRun(weekly, at('2026-03-09T00:00:00Z')))).toBe('2026-03-16T00:00:00.000Z');
    const friday: ScheduleSpec = { frequency: 'weekly', minuteOfDay: 17 * 60, isoWeekday: 5 };
    expect(iso(slotFor(friday, at('2026-03-13T16:59:00Z')))).toBe('2026-03-06T17:00:00.000Z');
  });

  it('should give a monthly slot on its day of month, over a year end', () => {
    expect(iso(slotFor(monthly, at('2026-01-01T00:59:00Z')))).toBe('2025-12-01T01:00:00.000Z');
    expect(iso(nextRun(monthly, at('2025-12-01T01:00:00Z')))).toBe('2026-01-01T01:00:00.000Z');
    const d28: ScheduleSpec = { frequency: 'monthly', minuteOfDay: 0, dayOfMonth: 28 };
    expect(iso(nextRun(d28, at('2026-01-28T00:00:00Z')))).toBe('2026-02-28T00:00:00.000Z');
  });

  it('should give one slot per period: every instant between two runs maps to the earlier run', () => {
    for (const spec of [daily, weekly, monthly]) {
      const s = slotFor(spec, at('2026-05-17T08:00:00Z'));
      const n = nextRun(spec, s);
      for (let t = s; t < n; t += 3_600_000) expect(slotFor(spec, t)).toBe(s);
      expect(slotFor(spec, n)).toBe(n);
    }
  });

  it('should cover the previous whole day, ISO week or calendar month', () => {
    expect(periodFor(daily, at('2026-03-01T06:30:00Z'))).toEqual({ start: '2026-02-28', end: '2026-02-28' });
    expect(periodFor(weekly, at('2026-03-09T00:00:00Z'))).toEqual({ start: '2026-03-02', end: '2026-03-08' });
    expect(periodFor({ ...weekly, isoWeekday: 3 }, at('2026-03-11T00:00:00Z'))).toEqual({ start: '2026-03-02', end: '2026-03-08' });
    expect(periodFor(monthly, at('2026-01-01T01:00:00Z'))).toEqual({ start: '2025-12-01', end: '2025-12-31' });
    expect(periodFor(monthly, at('2024-03-01T01:00:00Z'))).toEqual({ start: '2024-02-01', end: '2024-02-29' });
  });
});

describe(parseScheduleDefinition.name, () => {
  const body = {
    name: 'weekly PCI',
    frequency: 'weekly',
    weekday: 'friday',
    time: '07:15',
    report: { report_type: 'compliance', format: 'html' },
    delivery: { webhook: 'https://hooks.example.com/r', email: 'audit@example.com' },
  };

  it('should read a weekly schedule with its report and delivery', () => {
    const d = parseScheduleDefinition(body, NOW_US);
    expect(d.spec).toEqual({ frequency: 'weekly', minuteOfDay: 435, isoWeekday: 5 });
    expect(d.delivery).toEqual({ webhook: 'https://hooks.example.com/r', email: ['audit@example.com'] });
    expect(d.paused).toBe(false);
    expect(presentSpec(d.spec)).toEqual({ frequency: 'weekly', time: '07:15', weekday: 'friday' });
  });

  it('should default to midnight, Monday and the first of the month, and store without delivery', () => {
    const w = parseScheduleDefinition({ name: 'w', frequency: 'weekly', report: { report_type: 'activity' } }, NOW_US);
    expect(w.spec).toEqual({ frequency: 'weekly', minuteOfDay: 0, isoWeekday: 1 });
    expect(w.delivery).toEqual({ webhook: null, email: [] });
    expect(parseScheduleDefinition({ name: 'm', frequency: 'monthly', report: { report_type: 'security' } }, NOW_US).spec.dayOfMonth).toBe(
      1,
    );
  });

  it('should name every wrong field in one 400, the report checked by the report parser', () => {
    try {
      parseScheduleDefinition(
        {
          name: '',
          frequency: 'hourly',
          time: '25:00',
          day_of_month: 31,
          report: { report_type: 'nope', period: { start: 'x', end: 'y' } },
          delivery: { email: ['not-an-address'], fax: 1 },
          extra: 1,
        },
        NOW_US,
      );
      throw new Error('expected a refusal');
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details.map((d) => d.field).sort()).toEqual(
        ['day_of_month', 'delivery.email', 'delivery.fax', 'extra', 'frequency', 'name', 'report.period', 'time'].sort(),
      );
    }
    expect(() => parseScheduleDefinition({ ...body, report: { report_type: 'nope' } }, NOW_US)).toThrow(/report.report_type/);
    expect(() => parseScheduleDefinition({ ...body, frequency: 'monthly', weekday: undefined, day_of_month: 29 }, NOW_US)).toThrow(
      /day_of_month/,
    );
  });
});
