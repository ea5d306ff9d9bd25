import { ValidationError } from '@app/contracts';
import { INTEGRITY_PORT_DEFINITION, POLICY_REMOVAL_MAX_IDS, PolicyRemoval } from './integrity.port';

describe('INTEGRITY_PORT_DEFINITION.recordPolicyRemoval', () => {
  const method = INTEGRITY_PORT_DEFINITION.methods.recordPolicyRemoval;
  const removal: PolicyRemoval = { category: 'user_actions', day: '2019-03-10', reason: 'deleted', ids: ['a', 'b'] };
  const refusal = (m: unknown): Array<string | undefined> => {
    try {
      method.decode(m);
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).details.map((d) => d.field);
    }
    throw new Error('decoded');
  };

  it('should carry a removal across the transport unchanged', () => {
    expect(method.decode(method.encode('t1', removal))).toEqual(['t1', removal]);
  });

  it('should refuse a malformed removal naming the field', () => {
    const withPatch = (patch: Record<string, unknown>) => ({ tenantId: 't1', removal: { ...removal, ...patch } });
    expect(refusal({ tenantId: 't1' })).toEqual(['removal']);
    expect(refusal(withPatch({ day: '10.03.2019' }))).toEqual(['day']);
    expect(refusal(withPatch({ category: 'User Actions' }))).toEqual(['category']);
    expect(refusal(withPatch({ reason: 'expired' }))).toEqual(['reason']);
    expect(refusal(withPatch({ ids: 'a' }))).toEqual(['ids']);
    expect(refusal(withPatch({ ids: [1] }))).toEqual(['ids']);
    expect(refusal(withPatch({ ids: Array.from({ length: POLICY_REMOVAL_MAX_IDS + 1 }, (_, i) => `id-${i}`) }))).toEqual(['ids']);
    expect(refusal({ removal })).toEqual(['tenantId']);
  });
});
