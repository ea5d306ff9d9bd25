import { frameOctetCounted } from './framing';
import { renderMessage, RenderOptions } from './render';
import { escapeSdValue, eventStructuredData, isSdName, rfc3164Timestamp, sdElement, syslogMessage } from './syslog';
import { sampleEvent } from './test-events';

const BOM = '\uFEFF';

const options = (over: Partial<RenderOptions> = {}): RenderOptions => ({
  format: 'RFC5424',
  producer: { vendor: 'HOMEPOT', product: 'audit-service', version: '1.0' },
  header: { facility: 13, hostname: 'audit-1', appName: 'homepot-audit' },
  syslogHeader: 'rfc5424',
  sdId: 'audit@32473',
  ...over,
});

describe('RFC 5424', () => {
  describe('the RFC §6.5 examples (octet counts from the research notes, BOM included)', () => {
    it('should count example 1 as 110 octets', () => {
      const msg = `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - ${BOM}'su root' failed for lonvick on /dev/pts/8`;
      expect(frameOctetCounted(msg).toString('utf8')).toBe(`110 ${msg}`);
    });

    it('should render example 3 structured data and count it as 175 octets', () => {
      const sd = sdElement('exampleSDID@32473', [
        ['iut', '3'],
        ['eventSource', 'Application'],
        ['eventID', '1011'],
      ]);
      expect(sd).toBe('[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]');
      const msg = `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd} ${BOM}An application event log entry...`;
      expect(Buffer.byteLength(msg)).toBe(175);
    });

    it('should put two SD elements side by side with no space (example 4, 174 octets)', () => {
      const sd =
        sdElement('exampleSDID@32473', [
          ['iut', '3'],
          ['eventSource', 'Application'],
          ['eventID', '1011'],
        ]) + sdElement('examplePriority@32473', [['class', 'high']]);
      const msg = `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd}`;
      expect(Buffer.byteLength(msg)).toBe(174);
    });
  });

  describe(escapeSdValue.name, () => {
    it('should escape exactly ", \\ and ]', () => {
      expect(escapeSdValue('a"b\\c]d[e=f')).toBe('a\\"b\\\\c\\]d[e=f');
    });
  });

  describe(isSdName.name, () => {
    it.each(['a=b', 'a b', 'a]', 'a"', '', 'x'.repeat(33), 'é'])('should refuse %j', (name) => {
      expect(isSdName(name)).toBe(false);
    });
  });

  describe(syslogMessage.name, () => {
    it('should add the BOM only to text that is not ASCII, and flatten line breaks', () => {
      expect(syslogMessage('plain\nline')).toBe('plain line');
      expect(syslogMessage('café')).toBe(`${BOM}café`);
    });
  });

  describe('renderMessage RFC5424', () => {
    it('given an event, should render header, structured data and the description', () => {
      const event = sampleEvent({
        event_type: 'login_failed',
        severity: 'warning',
        description: 'Login "x" [1]',
        ip_address: '192.0.2.7',
        metadata: { user_id: 'al]ice' },
      });
      expect(renderMessage(event, options())).toBe(
        '<108>1 2025-09-01T15:30:45.123000Z audit-1 homepot-audit - login_failed ' +
          '[audit@32473 id="0192f4a8-7c1e-7000-8000-000000000001" tenant="acme" type="login_failed" category="security_events" severity="warning" src="192.0.2.7" user="al\\]ice"] ' +
          'Login "x" [1]',
      );
    });

    it.each([
      ['critical', 106],
      ['error', 107],
      ['warning', 108],
      ['info', 110],
      ['debug', 111],
    ] as const)('should give a %s event PRI %d with facility 13', (severity, pri) => {
      expect(renderMessage(sampleEvent({ severity }), options())).toMatch(new RegExp(`^<${pri}>1 `));
    });

    it('should write NILVALUE for an empty hostname and keep MSGID within 32 printable characters', () => {
      const event = sampleEvent({ event_type: 'a'.repeat(40), category: 'business_events' });
      const line = renderMessage(event, options({ header: { facility: 16, hostname: '', appName: 'homepot audit' } }));
      expect(line.split(' ').slice(2, 6)).toEqual(['-', 'homepot_audit', '-', 'a'.repeat(32)]);
    });
  });

  describe('CEF and LEEF in a syslog line', () => {
    it('should carry the CEF payload as MSG after a NILVALUE structured data', () => {
      const line = renderMessage(sampleEvent(), options({ format: 'CEF' }));
      expect(line.startsWith('<110>1 2025-09-01T15:30:45.123000Z audit-1 homepot-audit - device_registered - CEF:0|HOMEPOT|')).toBe(true);
    });

    it('should render bare CEF when no syslog header is wanted', () => {
      expect(renderMessage(sampleEvent(), options({ format: 'CEF', syslogHeader: 'none' }))).toMatch(/^CEF:0\|/);
    });

    it('should put an RFC 3164 header in front when asked', () => {
      expect(renderMessage(sampleEvent(), options({ format: 'LEEF', syslogHeader: 'rfc3164' }))).toMatch(
        /^<110>Sep {2}1 15:30:45 audit-1 homepot-audit: LEEF:2\.0\|/,
      );
    });
  });
});

describe('RFC 3164', () => {
  it('should space-pad the day and write UTC', () => {
    expect(rfc3164Timestamp('2025-10-05T03:04:05.123456Z')).toBe('Oct  5 03:04:05');
    expect(rfc3164Timestamp('2025-12-25T23:59:59Z')).toBe('Dec 25 23:59:59');
  });

  it('should carry the event as JSON, with no BOM and no line break', () => {
    const event = sampleEvent({ description: 'two\nlines é' });
    const line = renderMessage(event, options({ format: 'RFC3164' }));
    expect(line.startsWith('<110>Sep  1 15:30:45 audit-1 homepot-audit: {')).toBe(true);
    expect(line).not.toContain(BOM);
    expect(line).not.toMatch(/[\r\n]/);
    expect((JSON.parse(line.slice(line.indexOf('{'))) as { id: string }).id).toBe(event.id);
  });
});

describe('JSON lines', () => {
  it('should render the event as one JSON object without its log position', () => {
    const event = { ...sampleEvent({ description: 'a\nb' }), position: { partition: 0, offset: '5' } };
    const line = renderMessage(event, options({ format: 'JSON' }));
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.id).toBe(event.id);
    expect(parsed.description).toBe('a\nb');
    expect(parsed).not.toHaveProperty('position');
  });
});

describe(eventStructuredData.name, () => {
  it('should skip the fields an event does not have', () => {
    expect(eventStructuredData(sampleEvent(), 'audit@32473')).toBe(
      '[audit@32473 id="0192f4a8-7c1e-7000-8000-000000000001" tenant="acme" type="device_registered" category="device_management" severity="info"]',
    );
  });
});
