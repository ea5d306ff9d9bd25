import { ValidationError } from '@app/contracts';
import { mapSecrets, matches, parseDestination, parseIntegrationSettings, REDACTED, toEventFilter } from './integration';
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
  const filterOf = (filter: Record<string, unknown>) =>
    toEventFilter(parseIntegrationSettings({ type: 'syslog', destination: 'a:1', format: 'CEF', filter }).filter);

  it('should match only the tenant of the integration', () => {
    expect(matches('acme', filterOf({}), sampleEvent())).toBe(true);
    expect(matches('other', filterOf({}), sampleEvent())).toBe(false);
  });

  it('should require every non-empty list to match', () => {
    const e = sampleEvent({ event_type: 'login_failed', severity: 'warning' });
    expect(matches('acme', filterOf({ severities: ['warning'], categories: ['security_events'] }), e)).toBe(true);
    expect(matches('acme', filterOf({ severities: ['error'] }), e)).toBe(false);
    expect(matches('acme', filterOf({ categories: ['system_events'] }), e)).toBe(false);
    expect(matches('acme', filterOf({ event_types: ['login_success'] }), e)).toBe(false);
  });

  it('should read the search grammar: comma lists, metadata.<key> on nested keys, q', () => {
    const e = sampleEvent({ event_type: 'login_failed', description: 'Login FAILED for bob', metadata: { site: { id: 's-1' }, n: 3 } });
    expect(matches('acme', filterOf({ event_type: 'login_success,login_failed' }), e)).toBe(true);
    expect(matches('acme', filterOf({ 'metadata.site.id': 's-1', 'metadata.n': '3' }), e)).toBe(true);
    expect(matches('acme', filterOf({ 'metadata.site.id': 's-2' }), e)).toBe(false);
    expect(matches('acme', filterOf({ q: 'login failed' }), e)).toBe(true);
    expect(matches('acme', filterOf({ q: 'succeeded' }), e)).toBe(false);
  });
});

describe('the filter of an integration', () => {
  const parse = (filter: Record<string, unknown>) =>
    parseIntegrationSettings({ type: 'syslog', destination: 'a:1', format: 'CEF', filter }).filter;

  it('should store the search parameters normalized, the guide lists and the search lists merged', () => {
    expect(parse({ severities: ['error'], severity: 'critical,error', event_type: 'a_b', 'metadata.site_id': 's1', search: 'x' })).toEqual({
      severities: ['error', 'critical'],
      categories: [],
      event_types: ['a_b'],
      metadata: { site_id: 's1' },
      q: 'x',
    });
  });

  it.each([
    [{ since: '24h' }, 'filter.since'],
    [{ limit: '10' }, 'filter.limit'],
    [{ severity: 'loud' }, 'filter.severity'],
    [{ 'metadata.bad key': 'x' }, 'filter.metadata.bad key'],
    [{ event_type: 'Not A Type' }, 'filter.event_type'],
    [{ categories: ['nope_events'] }, 'filter.categories'],
    [{ source: ['a', 'b'] }, 'filter.source'],
    [{ 'metadata.k': ['a', 'b'] }, 'filter.metadata.k'],
  ])('should refuse %j naming %s', (filter, field) => {
    expect(fieldOf(() => parse(filter))).toBe(field);
  });
});

describe(mapSecrets.name, () => {
  const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
  const withKey = () =>
    parseIntegrationSettings({ type: 'syslog', destination: 'a:1', format: 'CEF', transport: 'tls', tls: { cert: CERT, key: KEY } });

  it('should map the client key and nothing else', () => {
    const s = mapSecrets(withKey(), () => REDACTED);
    expect(s.tls).toEqual({ cert: CERT, key: REDACTED });
    expect(mapSecrets(parseIntegrationSettings({ type: 'syslog', destination: 'a:1', format: 'CEF' }), () => 'x').tls).toBeNull();
  });

  it('should keep the stored key when a PATCH sends the redaction back, and refuse it when none is stored', () => {
    const base = withKey();
    expect(parseIntegrationSettings({ tls: { cert: CERT, key: REDACTED, servername: 'siem' } }, base).tls).toEqual({
      cert: CERT,
      key: KEY,
      servername: 'siem',
    });
    const bare = parseIntegrationSettings({ type: 'syslog', destination: 'a:1', format: 'CEF', transport: 'tls' });
    expect(fieldOf(() => parseIntegrationSettings({ tls: { cert: CERT, key: REDACTED } }, bare))).toBe('tls.key');
    expect(fieldOf(() => parseIntegrationSettings({ tls: { cert: CERT } }, bare))).toBe('tls.key');
    expect(fieldOf(() => parseIntegrationSettings({ tls: { cert: CERT, key: 'not a pem' } }, bare))).toBe('tls.key');
  });
});

describe('the https and hec types', () => {
  it('should default the format by type, keep the token, and want an https URL without credentials', () => {
    const hec = parseIntegrationSettings({ type: 'hec', destination: 'https://splunk:8088/services/collector/event', token: 'abc-123' });
    expect(hec).toMatchObject({ format: 'HEC', token: 'abc-123', token_header: 'Authorization', batch_max_events: 100 });
    expect(parseIntegrationSettings({ type: 'https', destination: 'https://c.example/ingest' }).format).toBe('JSON');
    expect(mapSecrets(hec, () => REDACTED).token).toBe(REDACTED);
    expect(parseIntegrationSettings({ token: REDACTED }, hec).token).toBe('abc-123');
  });

  it('should refuse a PATCH to type hec that keeps a syslog format or destination, naming the field', () => {
    const syslog = parseIntegrationSettings({ type: 'syslog', destination: 'a:1', format: 'CEF' });
    expect(fieldOf(() => parseIntegrationSettings({ type: 'hec' }, syslog))).toBe('destination');
    expect(fieldOf(() => parseIntegrationSettings({ type: 'hec', destination: 'https://s/x' }, syslog))).toBe('format');
    expect(parseIntegrationSettings({ type: 'hec', destination: 'https://s/x', format: 'hec' }, syslog).format).toBe('HEC');
  });

  it.each([
    [{ type: 'hec', destination: 'http://splunk:8088/x' }, 'destination'],
    [{ type: 'hec', destination: 'https://u:p@splunk:8088/x' }, 'destination'],
    [{ type: 'hec', destination: 'splunk:8088' }, 'destination'],
    [{ type: 'hec', destination: 'https://s/x', format: 'CEF' }, 'format'],
    [{ type: 'hec', destination: 'https://s/x', token: 'a b' }, 'token'],
    [{ type: 'hec', destination: 'https://s/x', batch_max_events: 0 }, 'batch_max_events'],
    [{ type: 'syslog', destination: 'a:1', format: 'CEF', token: 'x' }, 'token'],
    [{ type: 'syslog', destination: 'a:1', format: 'HEC' }, 'format'],
  ])('should refuse %j naming %s', (body, field) => {
    expect(fieldOf(() => parseIntegrationSettings(body))).toBe(field);
  });
});
