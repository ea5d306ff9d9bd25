import { RETENTION_CONFIG } from './retention.config';

describe('RETENTION_CONFIG', () => {
  it('should default to a 24-hour delay, hourly runs, no recipients and the real clock', () => {
    const s = RETENTION_CONFIG.parse({});
    expect(s).toMatchObject({ changeDelayHours: 24, intervalMinutes: 60, archiveRecipients: [], fixedClock: false });
    expect(Math.abs(s.now().getTime() - Date.now())).toBeLessThan(5000);
  });

  it('should take age recipients and a fixed test clock', () => {
    const r = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
    const s = RETENTION_CONFIG.parse({ AUDIT_ARCHIVE_RECIPIENTS: `${r}, ${r}`, AUDIT_RETENTION_NOW: '2026-12-02T12:00:00Z' });
    expect(s.archiveRecipients).toEqual([r, r]);
    expect(s.now().toISOString()).toBe('2026-12-02T12:00:00.000Z');
  });

  it('should refuse a bad value naming the variable, never echoing a secret', () => {
    expect(() => RETENTION_CONFIG.parse({ AUDIT_ARCHIVE_RECIPIENTS: 'ssh-ed25519 AAAA' })).toThrow(/AUDIT_ARCHIVE_RECIPIENTS/);
    expect(() => RETENTION_CONFIG.parse({ AUDIT_ARCHIVE_IDENTITY: 'AGE-SECRET-KEY-1NOTREALLY' })).toThrow(/AUDIT_ARCHIVE_IDENTITY/);
    expect(() => RETENTION_CONFIG.parse({ AUDIT_ARCHIVE_IDENTITY: 'AGE-SECRET-KEY-1NOTREALLY' })).not.toThrow(/NOTREALLY/);
    expect(() => RETENTION_CONFIG.parse({ AUDIT_RETENTION_NOW: 'yesterday' })).toThrow(/AUDIT_RETENTION_NOW/);
    expect(() => RETENTION_CONFIG.parse({ AUDIT_RETENTION_CHANGE_DELAY_HOURS: '-1' })).toThrow(/AUDIT_RETENTION_CHANGE_DELAY_HOURS/);
  });
});
