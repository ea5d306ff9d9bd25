import { ValidationError } from '@app/contracts';
import { matches, parseDestination, parseIntegrationSettings } from './integration';
import { sampleEvent } from './core/test-events';

const fieldOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e.details[0]?.field;
    throw e;
  }
  return undefined;
};

describe(parseIntegrationSettings.name, () => {
  it("given the guide's body, should fill the defaults: TCP with octet counting, RFC 5424 header, facility 13", () => {
    const s = parseIntegrationSettings({
      type: 'syslog',
      destination: 'siem.company.com:514',
      format: 'CEF',
      filter: { severities: ['warning', 'error', 'critical'], categories: ['security_events', 'system_events'] },
    });
    expect(s).toMatchObject({ transport: 'tcp', framing: 'octet-counting', syslog_header: 'rfc5424', facility: 13, tls: null });
    expect(s.name).toBe('syslog siem.company.com:514');
  });

  it('should map category aliases to their canonical names and accept a lower-case format', () => {
    const s = parseIntegrationSettings({
      type: 'syslog',
      destination: 'a:1',
      format: 'leef',
      filter: { categories: ['security', 'device'] },
    });
    expect(s.format).toBe('LEEF');
    expect(s.filter.categories).toEqual(['security_events', 'device_management']);
  });

  it.each([
    [{ destination: 'a:1', format: 'CEF' }, 'type'],
    [{ type: 'syslog', format: 'CEF' }, 'destination'],
    [{ type: 'syslog', destination: 'a:1' }, 'format'],
    [{ type: 'syslog', destination: 'a:1', format: 'CEF', transport: 'quic' }, 'transport'],
    [{ type: 'syslog', destination: 'a:1', format: 'CEF', filter: { severity: ['x'] } }, 'filter.severity'],
    [{ type: 'syslog', destination: 'a:1', format: 'CEF', tls: { ca: 'x' }, transport: 'tls' }, 'tls.ca'],
    [{ type: 'syslog', destination: 'a:1', format: 'CEF', tls: { servername: 'x' } }, 'tls'],
    [{ type: 'syslog', destination: 'a:1', format: 'CEF', facility: 24 }, 'facility'],
    [{ type: 'syslog', destination: 'a:1', format: 'CEF', max_datagram_bytes: 100 }, 'max_datagram_bytes'],
  ])('should refuse %j naming %s', (body, field) => {
    expect(fieldOf(() => parseIntegrationSettings(body))).toBe(field);
  });

  it('given a base, should change only the fields present', () => {
    const base = parseIntegrationSettings({ type: 'syslog', destination: 'a:1', format: 'CEF', filter: { severities: ['error'] } });
    const changed = parseIntegrationSettings({ format: 'JSON' }, base);
    expect(changed.format).toBe('JSON');
    expect(changed.filter.severities).toEqual(['error']);
    expect(changed.destination).toBe('a:1');
  });
});

describe(parseDestination.name, () => {
  it('should read host:port and a bracketed IPv6 address', () => {
    expect(parseDestination('siem.company.com:514')).toEqual({ host: 'siem.company.com', port: 514 });
    expect(parseDestination('[2001:db8::1]:6514')).toEqual({ host: '2001:db8::1', port: 6514 });
  });

  it.each(['siem', 'siem:0', 'siem:65536', '[siem]:1', 'a b:1', '-a:1'])('should refuse %j', (d) => {
    expect(fieldOf(() => parseDestination(d))).toBe('destination');
  });
});

describe(matches.name, () => {
  const integration = (filter: Partial<{ severities: string[]; categories: string[]; event_types: string[] }>) => ({
    tenant_id: 'acme',
    filter: { severities: [], categories: [], event_types: [], ...filter } as never,
  });

  it('should match only the tenant of the integration', () => {
    expect(matches(integration({}), sampleEvent())).toBe(true);
    expect(matches({ ...integration({}), tenant_id: 'other' }, sampleEvent())).toBe(false);
  });

  it('should require every non-empty list to match', () => {
    const e = sampleEvent({ event_type: 'login_failed', severity: 'warning' });
    expect(matches(integration({ severities: ['warning'], categories: ['security_events'] }), e)).toBe(true);
    expect(matches(integration({ severities: ['error'] }), e)).toBe(false);
    expect(matches(integration({ categories: ['system_events'] }), e)).toBe(false);
    expect(matches(integration({ event_types: ['login_success'] }), e)).toBe(false);
  });
});
