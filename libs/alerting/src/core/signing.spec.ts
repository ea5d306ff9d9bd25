import { randomBytes } from 'node:crypto';
import { newWebhookSecret, SecretBox, signWebhook } from './signing';

describe(signWebhook.name, () => {
  it("given the Standard Webhooks test vector, when signed, then the signature is the spec libraries' one", () => {
    // standard-webhooks/standard-webhooks libraries/go/webhook_test.go
    const sig = signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('given one changed body byte, when signed, then the signature differs', () => {
    const a = signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232315}');
    expect(a).not.toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});

describe(newWebhookSecret.name, () => {
  it('given a new secret, when decoded, then it is whsec_ and 32 random bytes', () => {
    const s = newWebhookSecret();
    expect(s.startsWith('whsec_')).toBe(true);
    expect(Buffer.from(s.slice(6), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(s);
  });
});

describe(SecretBox.name, () => {
  it('given a sealed secret, when opened with the same key, then it round-trips; with another key it fails', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('whsec_abc');
    expect(sealed).not.toContain('whsec_abc');
    expect(box.open(sealed)).toBe('whsec_abc');
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow();
  });
});
