import { ValidationError } from '@app/contracts';
import { canonicalRetentionCategory, policyFromJson, policyToJson, ruleFor, validatePolicy } from './policy';

const NOW = new Date('2026-12-02T12:00:00Z');

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).details.map((d) => d.field ?? '');
  }
  throw new Error('expected a ValidationError');
}

describe('validatePolicy', () => {
  it("given the guide's body, then it is a 2555-day policy archiving after a year, compressed and encrypted", () => {
    const { policy, warnings } = validatePolicy(
      { retention_days: 2555, archive_after_days: 365, compress_archives: true, encryption_required: true },
      NOW,
    );
    expect(policy).toEqual({
      retention: { years: 0, months: 0, days: 2555 },
      archiveAfter: { years: 0, months: 0, days: 365 },
      compress: true,
      encryptionRequired: true,
      categories: {},
    });
    expect(warnings).toEqual([]);
  });

  it('given the SOX preset with 2555 days, then it warns that the policy is shorter than seven years', () => {
    const { warnings } = validatePolicy({ preset: 'sox', retention_days: 2555 }, NOW);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/P2555D is shorter than SOX .* \(P7Y\)/);
  });

  it('given a preset alone, then its retention applies; calendar periods satisfy it', () => {
    expect(validatePolicy({ preset: 'hipaa' }, NOW).policy.retention).toEqual({ years: 6, months: 0, days: 0 });
    expect(validatePolicy({ preset: 'sox', retention_period: 'P7Y' }, NOW).warnings).toEqual([]);
  });

  it('given PCI DSS with one month online, then it warns about the three months online', () => {
    const { warnings } = validatePolicy({ preset: 'pci_dss', retention_period: 'P12M', archive_after_days: 30 }, NOW);
    expect(warnings).toEqual([expect.stringMatching(/keeps less online than PCI DSS .*P3M/)]);
    expect(validatePolicy({ preset: 'pci_dss', retention_period: 'P1Y', archive_after_period: 'P3M' }, NOW).warnings).toEqual([]);
  });

  it('given wrong fields, then each is named', () => {
    expect(fieldsOf(() => validatePolicy({ retention_days: 0 }, NOW))).toEqual(['/retention_days']);
    expect(fieldsOf(() => validatePolicy({ retention_days: -5 }, NOW))).toEqual(['/retention_days']);
    expect(fieldsOf(() => validatePolicy({ retention_days: 30, archive_after_days: 31 }, NOW))).toEqual(['/archive_after_days']);
    expect(fieldsOf(() => validatePolicy({ preset: 'gdpr', retention_days: 30 }, NOW))).toEqual(['/preset']);
    expect(fieldsOf(() => validatePolicy({ retention_period: 'seven years' }, NOW))).toEqual(['/retention_period']);
    expect(fieldsOf(() => validatePolicy({ retention_days: 1, retention_period: 'P1Y' }, NOW))).toEqual(['/retention_period']);
    expect(fieldsOf(() => validatePolicy({}, NOW))).toEqual(['/retention_days']);
    expect(fieldsOf(() => validatePolicy({ retention_days: 30, categories: { system_events: { retention_days: 0 } } }, NOW))).toEqual([
      '/categories/system_events/retention_days',
    ]);
  });

  it('given per-category overrides, then each category has its rule and the rest the default', () => {
    const { policy } = validatePolicy(
      {
        retention_days: 365,
        archive_after_days: 90,
        categories: { security_events: { retention_period: 'P7Y' }, system_events: { retention_days: 30, archive_after_days: 30 } },
      },
      NOW,
    );
    expect(ruleFor(policy, 'security_events')).toEqual({
      retention: { years: 7, months: 0, days: 0 },
      archiveAfter: { years: 0, months: 0, days: 90 },
    });
    expect(ruleFor(policy, 'system_events').retention).toEqual({ years: 0, months: 0, days: 30 });
    expect(ruleFor(policy, 'user_actions').retention).toEqual({ years: 0, months: 0, days: 365 });
  });

  it('given an alias as an override key, then it governs the category stored events carry', () => {
    const { policy } = validatePolicy({ retention_days: 365, categories: { security: { retention_period: 'P7Y' } } }, NOW);
    expect(Object.keys(policy.categories)).toEqual(['security_events']);
    expect(ruleFor(policy, 'security_events').retention).toEqual({ years: 7, months: 0, days: 0 });
  });

  it('given an unknown category, or a category and its alias, then the override is named', () => {
    expect(fieldsOf(() => validatePolicy({ retention_days: 30, categories: { nope: { retention_days: 10 } } }, NOW))).toEqual([
      '/categories/nope',
    ]);
    expect(
      fieldsOf(() =>
        validatePolicy(
          { retention_days: 30, categories: { security_events: { retention_days: 10 }, security: { retention_days: 20 } } },
          NOW,
        ),
      ),
    ).toEqual(['/categories/security']);
  });

  it('given a stored policy with an override of an unknown category, then it still reads back (that override matches nothing)', () => {
    const stored = { retention_period: 'P30D', categories: { nope: { retention_period: 'P10D' }, security: { retention_period: 'P7Y' } } };
    const policy = policyFromJson(stored, NOW);
    expect(Object.keys(policy.categories)).toEqual(['nope', 'security_events']);
  });

  it('should round-trip through its stored form', () => {
    const { policy } = validatePolicy(
      {
        preset: 'sox',
        retention_period: 'P7Y',
        archive_after_days: 365,
        compress_archives: false,
        categories: { system_events: { retention_days: 30 } },
      },
      NOW,
    );
    expect(policyFromJson(JSON.parse(JSON.stringify(policyToJson(policy))) as Record<string, unknown>, NOW)).toEqual(policy);
  });
});

describe(canonicalRetentionCategory.name, () => {
  it('given an alias, then its category; given an unknown name, then a 400 naming the field', () => {
    expect(canonicalRetentionCategory('/category', 'security')).toBe('security_events');
    expect(canonicalRetentionCategory('/category', 'user_actions')).toBe('user_actions');
    expect(fieldsOf(() => canonicalRetentionCategory('/category', 'nosuch'))).toEqual(['/category']);
  });
});
