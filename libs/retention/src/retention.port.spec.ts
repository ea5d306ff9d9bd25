import { ValidationError } from '@app/contracts';
import { decodeDto } from '@app/runtime';
import { LegalHoldDto } from './retention.port';

describe(LegalHoldDto.name, () => {
  const decode = decodeDto(LegalHoldDto);
  const detailsOf = (body: unknown) => {
    try {
      decode(body);
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).details;
    }
    throw new Error('expected a ValidationError');
  };
  const range = { from: '2025-10-01T00:00:00Z', to: '2025-10-31T00:00:00Z' };

  it('given no reason, then one detail says it is required', () => {
    expect(detailsOf(range)).toEqual([{ field: '/reason', message: 'reason is required' }]);
    expect(detailsOf({ ...range, reason: '' })).toEqual([{ field: '/reason', message: 'reason is required' }]);
  });

  it('given a reason of the wrong type or length, then one detail says which', () => {
    expect(detailsOf({ ...range, reason: 7 })).toEqual([{ field: '/reason', message: 'reason must be a string' }]);
    expect(detailsOf({ ...range, reason: 'x'.repeat(2001) })).toEqual([
      { field: '/reason', message: 'reason must be at most 2000 characters' },
    ]);
  });

  it('given a reason, then the hold decodes', () => {
    expect(decode({ ...range, reason: 'case 1' })).toMatchObject({ reason: 'case 1' });
  });
});
