import { cefExtension, escapeCefExtension, escapeCefHeader, renderCef } from './cef';
import { frameOctetCounted } from './framing';
import { renderRfc5424 } from './syslog';
import { sampleEvent } from './test-events';

const producer = { vendor: 'HOMEPOT', product: 'audit-service', version: '1.0' };

/**
 * A strict CEF reader written after Beats' decode_cef grammar (cef.rl): the header ends at the 7th unescaped `|`,
 * a header backslash must escape `\` or `|`, an extension value must not hold `\|`, an unescaped `=` or a lone
 * backslash, and pairs are separated by a space. It throws where Beats reports an error, so what the renderer
 * emits is checked against the grammar, not against itself.
 */
function parseCefStrict(line: string): { header: string[]; extension: Record<string, string> } {
  if (!line.startsWith('CEF:')) throw new Error('no CEF: prefix');
  const header: string[] = [];
  let field = '';
  let i = 4;
  while (header.length < 7) {
    if (i >= line.length) throw new Error('fewer than 7 header fields');
    const c = line[i];
    if (c === '\\') {
      const n = line[i + 1];
      if (n !== '\\' && n !== '|') throw new Error(`bad header escape \\${n}`);
      field += n;
      i += 2;
    } else if (c === '|') {
      header.push(field);
      field = '';
      i++;
    } else if (c === '\r' || c === '\n') {
      throw new Error('line break in header');
    } else {
      field += c;
      i++;
    }
  }
  const rest = line.slice(i);
  const extension: Record<string, string> = {};
  if (rest === '') return { header, extension };
  // A pair starts at the beginning or after a space, at `key=` with an alphanumeric key.
  const starts = [...rest.matchAll(/(?:^| )([A-Za-z0-9_][A-Za-z0-9_.,[\]]*)=/g)];
  if (starts.length === 0 || starts[0].index !== 0) throw new Error('extension does not start with key=');
  starts.forEach((m, k) => {
    const valueStart = m.index + m[0].length;
    const valueEnd = k + 1 < starts.length ? starts[k + 1].index : rest.length;
    const raw = rest.slice(valueStart, valueEnd);
    let value = '';
    for (let j = 0; j < raw.length; j++) {
      const c = raw[j];
      if (c === '\t') throw new Error('tab in extension');
      if (c === '=') throw new Error(`unescaped = in value of ${m[1]}`);
      if (c !== '\\') {
        value += c;
        continue;
      }
      const n = raw[++j];
      if (n === '\\' || n === '=') value += n;
      else if (n === 'n') value += '\n';
      else if (n === 'r') value += '\r';
      else throw new Error(`bad extension escape \\${n ?? ''} in ${m[1]}`);
    }
    extension[m[1]] = k + 1 === starts.length ? value.trimEnd() : value;
  });
  return { header, extension };
}

describe('CEF', () => {
  describe(escapeCefHeader.name, () => {
    it('should escape backslash and pipe, and nothing else (= is allowed in the header)', () => {
      expect(escapeCefHeader('security\\compliance')).toBe('security\\\\compliance');
      expect(escapeCefHeader('threat|->manager')).toBe('threat\\|->manager');
      expect(escapeCefHeader('a=b')).toBe('a=b');
    });

    it('should replace line breaks with a space (no newline is allowed in the header)', () => {
      expect(escapeCefHeader('a\r\nb\nc\rd')).toBe('a b c d');
    });
  });

  describe(escapeCefExtension.name, () => {
    it('should escape backslash, equals and line breaks (CRLF as one \\n)', () => {
      expect(escapeCefExtension('a=b c\\d\nline2')).toBe('a\\=b c\\\\d\\nline2');
      expect(escapeCefExtension('x\r\ny\rz')).toBe('x\\ny\\nz');
    });

    it('should never emit an escaped pipe: \\| in an extension is a parse error in Beats', () => {
      expect(escapeCefExtension('this|has an pipe')).toBe('this|has an pipe');
      expect(escapeCefExtension('this\\|x')).toBe('this\\\\|x');
    });
  });

  describe(cefExtension.name, () => {
    it('should refuse a key that is not alphanumeric', () => {
      expect(() => cefExtension([['cs1.label', 'x']])).toThrow(/alphanumeric/);
    });

    it('should skip empty values', () => {
      expect(
        cefExtension([
          ['src', ''],
          ['suser', 'admin'],
        ]),
      ).toBe('suser=admin');
    });
  });

  describe('the research notes vectors', () => {
    it('should render the HOMEPOT CEF-in-5424 vector byte for byte (259 octets)', () => {
      const header = ['CEF:0', 'HOMEPOT', 'audit-service', '1.0', 'device_registered', 'Device POS|01 registered', '3']
        .map(escapeCefHeader)
        .join('|');
      const ext = cefExtension([
        ['rt', '1756740645123'],
        ['suser', 'admin'],
        ['src', '192.168.1.100'],
        ['cs1Label', 'site_id'],
        ['cs1', 'RESTAURANT_001'],
        ['msg', 'a=b c\\d\nline2'],
      ]);
      const event = sampleEvent({ event_type: 'device_registered', severity: 'info' });
      const line = renderRfc5424(
        { ...event, timestamp: '2025-09-01T15:30:45.123Z' },
        { facility: 13, hostname: 'homepot-audit', appName: 'audit-svc' },
        '-',
        `${header}|${ext}`,
      );
      expect(line).toBe(
        '<110>1 2025-09-01T15:30:45.123Z homepot-audit audit-svc - device_registered - CEF:0|HOMEPOT|audit-service|1.0|device_registered|Device POS\\|01 registered|3|rt=1756740645123 suser=admin src=192.168.1.100 cs1Label=site_id cs1=RESTAURANT_001 msg=a\\=b c\\\\d\\nline2',
      );
      expect(Buffer.byteLength(line)).toBe(259);
      expect(frameOctetCounted(line).subarray(0, 4).toString()).toBe('259 ');
      const parsed = parseCefStrict(line.slice(line.indexOf('CEF:')));
      expect(parsed.header[5]).toBe('Device POS|01 registered');
      expect(parsed.extension.msg).toBe('a=b c\\d\nline2');
    });

    it('should escape the positive vector header as Beats decodes it', () => {
      const line = `CEF:0|${escapeCefHeader('security\\compliance')}|${escapeCefHeader('threat|->manager')}|1.0|100|message contains escapes|10|${cefExtension([['spt', '1232']])}`;
      expect(line.startsWith('CEF:0|security\\\\compliance|threat\\|->manager|1.0|100|')).toBe(true);
      const parsed = parseCefStrict(line);
      expect(parsed.header[1]).toBe('security\\compliance');
      expect(parsed.header[2]).toBe('threat|->manager');
    });

    it.each([
      ['moo=this\\|has an escaped pipe', /bad extension escape/],
      ['moo=this =has = equals\\=', /unescaped =/],
      ["requestClientApplication='Foo-Bar; =Email:x'", /unescaped =/],
      ['a=1\tb=2', /tab/],
    ])('should be a strict reader that refuses the negative vector %s (so the round trips below mean something)', (ext, error) => {
      expect(() => parseCefStrict(`CEF:0|v|p|1|id|n|3|${ext}`)).toThrow(error);
    });
  });

  describe(renderCef.name, () => {
    it('given an event with every field, should put them in the standard keys with externalId last', () => {
      const event = sampleEvent({
        event_type: 'login_failed',
        severity: 'warning',
        description: 'Login failed',
        ip_address: '192.0.2.7',
        user_agent: 'Mozilla/5.0 (X11)',
        session_id: 's-1',
        metadata: { user_id: 'alice', site_id: 'SITE_1', device_id: 'POS_01' },
      });
      const line = renderCef(event, producer);
      expect(line).toBe(
        'CEF:0|HOMEPOT|audit-service|1.0|login_failed|Login failed|5|rt=1756740645123 cat=security_events src=192.0.2.7 suser=alice ' +
          'requestClientApplication=Mozilla/5.0 (X11) cs1Label=site_id cs1=SITE_1 cs2Label=device_id cs2=POS_01 cs3Label=session_id cs3=s-1 ' +
          'msg={"user_id":"alice","site_id":"SITE_1","device_id":"POS_01"} externalId=0192f4a8-7c1e-7000-8000-000000000001',
      );
    });

    it.each([
      ['debug', 1],
      ['info', 3],
      ['warning', 5],
      ['error', 7],
      ['critical', 10],
    ] as const)('should map severity %s to the integer %d', (severity, cef) => {
      expect(renderCef(sampleEvent({ severity }), producer).split('|')[6]).toBe(String(cef));
    });

    it('should leave out the keys of fields the event does not have (an empty src= is an invalid address)', () => {
      const line = renderCef(sampleEvent(), producer);
      expect(line).not.toContain('src=');
      expect(line).not.toContain('suser=');
      expect(line).not.toContain('cs1Label=');
    });

    it.each([
      'a|b\\c=d',
      'x\\',
      'ends with = ',
      'line1\nline2\r\nline3',
      'pipes || and \\| and \\\\=',
      'key=value other=thing',
      'unicode é 漢字 😀',
    ])('given hostile text %j everywhere, the strict reader should get it back exactly', (s) => {
      const event = sampleEvent({
        event_type: 'custom_event',
        category: 'business_events',
        description: s,
        user_agent: s,
        metadata: { user_id: s, site_id: s },
      });
      const line = renderCef(event, producer);
      expect(line).not.toMatch(/[\r\n]/);
      const parsed = parseCefStrict(line);
      expect(parsed.header[5]).toBe(s.replace(/\r\n|\r|\n/g, ' '));
      const crlf = (v: string): string => v.replace(/\r\n|\r/g, '\n');
      expect(parsed.extension.requestClientApplication).toBe(crlf(s));
      expect(parsed.extension.suser).toBe(crlf(s));
      expect(parsed.extension.cs1).toBe(crlf(s));
      expect(parsed.extension.externalId).toBe(event.id);
    });
  });
});
