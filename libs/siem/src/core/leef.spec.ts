import { escapeLeefHeader, leefValue, renderLeef } from './leef';
import { sampleEvent } from './test-events';

const producer = { vendor: 'HOMEPOT', product: 'audit-service', version: '1.0' };

describe('LEEF 2.0', () => {
  it('should write the tab delimiter in the header as x09 and separate attributes with tabs', () => {
    const event = sampleEvent({ severity: 'error', ip_address: '2001:db8::1', metadata: { user_id: 'bob' } });
    expect(renderLeef(event, producer)).toBe(
      'LEEF:2.0|HOMEPOT|audit-service|1.0|device_registered|x09|' +
        [
          'devTime=2025-09-01T15:30:45.123000Z',
          "devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSSSSX",
          'cat=device_management',
          'sev=7',
          'src=2001:db8::1',
          'usrName=bob',
          'description=New device registration',
          'metadata={"user_id":"bob"}',
          'eventId=0192f4a8-7c1e-7000-8000-000000000001',
        ].join('\t'),
    );
  });

  it('should escape a pipe and a backslash in the header, so a field cannot end the header early', () => {
    expect(escapeLeefHeader('a|b\\')).toBe('a\\|b\\\\');
  });

  it('should never let a tab or a line break into a value (LEEF has no escape for them)', () => {
    expect(leefValue('a\tb\r\nc\nd=e')).toBe('a b c d=e');
    const line = renderLeef(sampleEvent({ description: 'x\ty\nz' }), producer);
    expect(line).not.toMatch(/[\r\n]/);
    expect(line.split('\t')).toContain('description=x y z');
  });
});
