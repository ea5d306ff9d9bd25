import { ValidationError } from '@app/contracts';
import { parseVerifyBody } from './integrity.controller';

describe(parseVerifyBody.name, () => {
  const fields = (body: unknown): string[] => {
    try {
      parseVerifyBody(body);
      return [];
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).details.map((d) => d.field ?? '');
    }
  };

  it('should read an empty body as everything, and dates as whole UTC days', () => {
    expect(parseVerifyBody(undefined)).toEqual({ fromUs: undefined, toUs: undefined });
    expect(parseVerifyBody({ from: '2026-12-01', to: '2026-12-01' })).toEqual({
      fromUs: Date.parse('2026-12-01T00:00:00Z') * 1000,
      toUs: Date.parse('2026-12-02T00:00:00Z') * 1000 - 1,
    });
  });

  it('should name an inverted range, an unknown field, a bad time and a body that is not an object', () => {
    expect(fields({ from: '2026-12-04T00:00:00Z', to: '2026-12-01T00:00:00Z' })).toEqual(['/to']);
    expect(fields({ foo: 1, from: '2026-12-01' })).toEqual(['/foo']);
    expect(fields({ from: 'yesterday' })).toEqual(['/from']);
    expect(fields([])).toEqual(['/']);
  });
});
