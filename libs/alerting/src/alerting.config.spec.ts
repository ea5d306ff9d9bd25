import { ConfigError } from '@app/common';
import { ALERTING_CONFIG } from './alerting.config';

describe('ALERTING_CONFIG', () => {
  it('given nothing set, when parsed, then e-mail is off and the key comes from the data directory', () => {
    const c = ALERTING_CONFIG.parse({});
    expect(c.smtpUrl).toBeUndefined();
    expect(c.secretsKey).toBeUndefined();
  });

  it.each([
    ['AUDIT_SMTP_URL', 'http://mail.example.com'],
    ['AUDIT_SMTP_URL', 'not a url'],
    ['AUDIT_SECRETS_KEY', Buffer.alloc(16).toString('base64')],
  ])('given a bad %s, when parsed, then the error names it', (variable, value) => {
    let error: unknown;
    try {
      ALERTING_CONFIG.parse({ [variable]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
  });

  it('given a 32-byte key and an smtp URL, when parsed, then both are used', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const c = ALERTING_CONFIG.parse({ AUDIT_SECRETS_KEY: key, AUDIT_SMTP_URL: 'smtp://127.0.0.1:2525' });
    expect(c.secretsKey?.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(c.smtpUrl).toBe('smtp://127.0.0.1:2525');
  });
});
