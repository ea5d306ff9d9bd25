import { formatPeriod, parsePeriod, shorterAt, subtractPeriod } from './period';

describe('Period', () => {
  it('should parse ISO 8601 date periods and refuse zero, time parts and junk', () => {
    expect(parsePeriod('P7Y')).toEqual({ years: 7, months: 0, days: 0 });
    expect(parsePeriod('P1Y6M2W3D')).toEqual({ years: 1, months: 6, days: 17 });
    expect(parsePeriod('P0D')).toBeUndefined();
    expect(parsePeriod('P')).toBeUndefined();
    expect(parsePeriod('PT1H')).toBeUndefined();
    expect(parsePeriod('7 years')).toBeUndefined();
    expect(formatPeriod({ years: 7, months: 0, days: 0 })).toBe('P7Y');
    expect(formatPeriod({ years: 0, months: 0, days: 2555 })).toBe('P2555D');
  });

  it('should subtract calendar months clamping to the month end, keeping the time of day', () => {
    expect(subtractPeriod(new Date('2026-03-31T10:00:00Z'), { years: 0, months: 1, days: 0 }).toISOString()).toBe(
      '2026-02-28T10:00:00.000Z',
    );
    expect(subtractPeriod(new Date('2024-02-29T00:00:00Z'), { years: 1, months: 0, days: 0 }).toISOString()).toBe(
      '2023-02-28T00:00:00.000Z',
    );
    expect(subtractPeriod(new Date('2026-01-15T00:00:00Z'), { years: 0, months: 2, days: 0 }).toISOString()).toBe(
      '2025-11-15T00:00:00.000Z',
    );
  });

  it('given any date, when 2555 days is compared with seven calendar years, then it is shorter', () => {
    for (const at of ['2026-12-02T00:00:00Z', '2025-01-01T00:00:00Z', '2031-03-01T00:00:00Z', '2028-02-29T12:00:00Z']) {
      expect(shorterAt({ years: 0, months: 0, days: 2555 }, { years: 7, months: 0, days: 0 }, new Date(at))).toBe(true);
      expect(shorterAt({ years: 0, months: 0, days: 2557 }, { years: 7, months: 0, days: 0 }, new Date(at))).toBe(false);
    }
  });
});
