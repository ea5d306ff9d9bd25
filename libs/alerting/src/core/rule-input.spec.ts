import { OutboundPolicy } from '@app/runtime';
import { parseRuleDefinition, WINDOW_BOUNDS } from './rule-input';

const policy = new OutboundPolicy([]);
const guide = {
  alert_name: 'security_breach',
  event_types: ['unauthorized_access', 'login_failed'],
  threshold: 5,
  time_window: 300,
  notification: { email: 'security@company.com', webhook: 'https://alerts.company.com/webhook' },
};

function fieldsOf(body: unknown, p = policy): string[] {
  try {
    parseRuleDefinition(body, p);
  } catch (e) {
    return ((e as { details: Array<{ field: string }> }).details ?? []).map((d) => d.field);
  }
  return [];
}

describe(parseRuleDefinition.name, () => {
  it("given the guide's body, when parsed, then it is accepted with the defaults (the host is not resolved here)", () => {
    const { definition, unknownEventTypes } = parseRuleDefinition(guide, policy);
    expect(definition).toMatchObject({ threshold: 5, time_window: 300, cooldown: 0, severity: 'warning', enabled: true, group_by: [] });
    expect(definition.notification).toEqual({ email: ['security@company.com'], webhook: 'https://alerts.company.com/webhook' });
    expect(unknownEventTypes).toEqual([]);
  });

  it.each([
    ['threshold', { threshold: 0 }],
    ['threshold', { threshold: 1.5 }],
    ['time_window', { time_window: WINDOW_BOUNDS.min - 1 }],
    ['time_window', { time_window: WINDOW_BOUNDS.max + 1 }],
    ['notification.email', { notification: { email: 'a@b' } }],
    ['notification.webhook', { notification: { webhook: 'javascript:alert(1)' } }],
    ['notification.webhook', { notification: { webhook: 'https://user:pw@alerts.company.com/' } }],
    ['group_by', { group_by: ['metadata.'] }],
    ['cooldown', { cooldown: -1 }],
    ['silences[0].reason', { silences: [{ start: '2026-01-01T00:00:00Z', end: '2026-01-01T01:00:00Z', reason: '' }] }],
    ['silences[0].end', { silences: [{ start: '2026-01-01T01:00:00Z', end: '2026-01-01T00:00:00Z', reason: 'x' }] }],
    ['colour', { colour: 'red' }],
  ])('given a wrong %s, when parsed, then the 400 names it', (field, over) => {
    expect(fieldsOf({ ...guide, ...over })).toContain(field);
  });

  it.each([
    'http://127.0.0.1/x',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://0x7f.1/',
    'http://10.1.2.3/',
  ])('given the private or metadata address %s, when parsed without an allow list, then it is refused', (webhook) => {
    expect(fieldsOf({ ...guide, notification: { webhook } })).toEqual(['notification.webhook']);
  });

  it('given a loopback receiver listed in AUDIT_OUTBOUND_ALLOW, when parsed, then it is accepted', () => {
    expect(fieldsOf({ ...guide, notification: { webhook: 'http://127.0.0.1:9999/hook' } }, new OutboundPolicy(['127.0.0.0/8']))).toEqual(
      [],
    );
  });

  it('given custom event types, when parsed, then they are accepted and listed as unknown', () => {
    expect(parseRuleDefinition({ ...guide, event_types: ['login_failed', 'door_forced'] }, policy).unknownEventTypes).toEqual([
      'door_forced',
    ]);
  });

  it('given a PATCH of one field, when merged over the stored rule, then the rest is kept', () => {
    const base = parseRuleDefinition(guide, policy).definition;
    const { definition } = parseRuleDefinition({ threshold: 10, notification: { email: 'soc@example.com' } }, policy, base);
    expect(definition.threshold).toBe(10);
    expect(definition.notification).toEqual({ email: ['soc@example.com'], webhook: 'https://alerts.company.com/webhook' });
  });
});
