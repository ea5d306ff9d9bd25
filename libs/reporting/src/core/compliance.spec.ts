import { findEventType } from '@app/contracts';
import { periodDays } from './capability-evidence';
import { ControlDefinition, CONTROLS, controlStatus, lacksRequiredFields } from './compliance';

/** What each control must be proved by: a change to the mapping is a change to this table. */
const EXPECTED: Record<string, { kind: ControlDefinition['kind']; proves?: string[]; minimumPeriod?: string }> = {
  'PCI DSS v4.0.1 10.2.1.1': { kind: 'events', proves: ['api_access'] },
  'PCI DSS v4.0.1 10.2.1.2': { kind: 'events', proves: ['admin_action', 'config_updated'] },
  'PCI DSS v4.0.1 10.2.1.3': { kind: 'events', proves: ['data_exported', 'report_generated'] },
  'PCI DSS v4.0.1 10.2.1.4': { kind: 'events', proves: ['login_failed', 'unauthorized_access', 'permission_denied'] },
  'PCI DSS v4.0.1 10.2.1.5': { kind: 'events', proves: ['user_created', 'password_changed', 'permission_changed'] },
  'PCI DSS v4.0.1 10.2.1.6': { kind: 'events', proves: ['system_startup', 'system_shutdown'] },
  'PCI DSS v4.0.1 10.2.1.7': { kind: 'events', proves: ['device_registered', 'site_deleted'] },
  'PCI DSS v4.0.1 10.2.2': { kind: 'record_fields' },
  'PCI DSS v4.0.1 10.5.1': { kind: 'retention', minimumPeriod: 'P1Y' },
  'PCI DSS v4.0.1 10.7.2': { kind: 'events', proves: ['system_error', 'backup_failed'] },
  'SOC 2 CC6.1': { kind: 'events', proves: ['login_success', 'api_access', 'permission_denied'] },
  'SOC 2 CC6.2': { kind: 'events', proves: ['user_created', 'user_deleted'] },
  'SOC 2 CC6.3': { kind: 'events', proves: ['permission_changed'] },
  'SOC 2 CC7.2': { kind: 'events', proves: ['unauthorized_access', 'security_policy_violation'] },
  'SOC 2 CC7.3': { kind: 'events', proves: ['security_policy_violation'] },
  'HIPAA 164.312(b)': { kind: 'events', proves: ['api_access', 'data_exported'] },
  'HIPAA 164.316(b)(2)(i)': { kind: 'retention', minimumPeriod: 'P6Y' },
  'SOX 802 / 17 CFR 210.2-06': { kind: 'retention', minimumPeriod: 'P7Y' },
  'SOX ITGC change management': { kind: 'events', proves: ['config_updated', 'firmware_updated'] },
  'GDPR Art. 5(1)(e)': { kind: 'retention' },
  'GDPR Art. 17': { kind: 'events', proves: ['user_deleted'] },
  'GDPR Art. 30': { kind: 'events', proves: ['data_exported'] },
  'GDPR Art. 32': { kind: 'events', proves: ['encryption_key_rotated'] },
};

const key = (c: ControlDefinition): string => `${c.framework} ${c.control}`;

describe('CONTROLS', () => {
  it('given the mapping, then it has exactly the controls the table expects', () => {
    expect(CONTROLS.map(key).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  describe.each(CONTROLS.map((c) => [key(c), c] as const))('%s', (name, control) => {
    const expected = EXPECTED[name];

    it('is mapped as expected, to event types the catalogue knows (or the documented custom business event)', () => {
      expect(control.kind).toBe(expected.kind);
      for (const t of expected.proves ?? []) expect(control.eventTypes).toContain(t);
      for (const t of control.eventTypes) if (t !== 'transaction_processed') expect(findEventType(t)).toBeDefined();
      expect(control.minimumPeriod).toBe(expected.minimumPeriod);
    });

    if (expected.kind === 'events') {
      it('given evidence events, then satisfied; given events but none of its types, then a gap; given no events, insufficient data', () => {
        const base = { totalEvents: 10, categories: [] };
        expect(controlStatus(control, { ...base, count: 3 }).status).toBe('satisfied');
        expect(controlStatus(control, { ...base, count: 0 }).status).toBe('gap');
        expect(controlStatus(control, { count: 0, totalEvents: 0, categories: [] }).status).toBe('insufficient_data');
      });

      it("given a report whose categories leave the control's out, then not applicable", () => {
        expect(controlStatus(control, { count: 0, totalEvents: 10, categories: ['no_such_category'] }).status).toBe('not_applicable');
      });
    }

    if (expected.kind === 'retention') {
      it('given the capability off, then insufficient data saying so; given a policy, then compared with the minimum at the report time', () => {
        const base = { count: 0, totalEvents: 10, categories: [] };
        expect(controlStatus(control, { ...base, retention: { missing: 'capability off' } })).toEqual({
          status: 'insufficient_data',
          reason: 'retention: capability off',
        });
        const at = new Date('2026-03-01T00:00:00Z');
        expect(controlStatus(control, { ...base, retention: { days: 3000, at } }).status).toBe('satisfied');
        if (control.minimumPeriod !== undefined) {
          // Exactly the minimum, in the calendar days it spans before `at`, satisfies it; a day less is a gap.
          const exact = periodDays(control.minimumPeriod, at)!;
          expect(controlStatus(control, { ...base, retention: { days: exact, at } }).status).toBe('satisfied');
          expect(controlStatus(control, { ...base, retention: { days: exact - 1, at } })).toMatchObject({ status: 'gap' });
        }
      });
    }

    if (expected.kind === 'record_fields') {
      it('given complete records, then satisfied; given some lacking fields, then a gap', () => {
        expect(controlStatus(control, { count: 0, totalEvents: 5, categories: [] }).status).toBe('satisfied');
        expect(controlStatus(control, { count: 2, totalEvents: 5, categories: [] }).status).toBe('gap');
      });
    }
  });
});

describe(lacksRequiredFields.name, () => {
  it('given a user, an origin and a resource, then complete; without a resource, then lacking', () => {
    const base = { source: 'web', ip_address: '', session_id: '' };
    expect(lacksRequiredFields({ ...base, metadata: { user_id: 'u', device_id: 'd' } })).toBe(false);
    expect(lacksRequiredFields({ ...base, metadata: { user_id: 'u' } })).toBe(true);
    expect(lacksRequiredFields({ ...base, source: '', metadata: { user_id: 'u', device_id: 'd' } })).toBe(true);
  });
});
