import { isTransientLookupFailure, OutboundPolicy } from './outbound';

describe(OutboundPolicy.name, () => {
  it('should refuse private, loopback, link-local and metadata addresses by default', async () => {
    const sut = new OutboundPolicy();
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.9',
      '192.168.1.100',
      '169.254.169.254',
      '100.64.0.1',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
    ]) {
      await expect(sut.resolve(address, 'notification.webhook')).rejects.toMatchObject({
        status: 400,
        details: [{ field: 'notification.webhook', message: expect.stringContaining('AUDIT_OUTBOUND_ALLOW') }],
      });
    }
  });

  it('should allow public addresses and whatever the allow list names', async () => {
    await expect(new OutboundPolicy().resolve('93.184.216.34', 'destination')).resolves.toEqual({ address: '93.184.216.34', family: 4 });
    const sut = new OutboundPolicy(['127.0.0.0/8', '10.0.0.5', 'siem.internal']);
    await expect(sut.resolve('127.0.0.1', 'destination')).resolves.toEqual({ address: '127.0.0.1', family: 4 });
    expect(sut.refusal('x', '10.0.0.5')).toBeUndefined();
    expect(sut.refusal('x', '10.0.0.6')).toMatch(/private/);
    expect(sut.refusal('siem.internal', '10.9.9.9')).toBeUndefined();
  });

  it('should check the resolved address of a name, not the name', async () => {
    await expect(new OutboundPolicy().resolve('localhost', 'destination')).rejects.toMatchObject({ status: 400 });
    await expect(new OutboundPolicy(['localhost']).resolve('localhost', 'destination')).resolves.toMatchObject({
      family: expect.any(Number),
    });
  });

  it('should name a host that does not resolve', async () => {
    await expect(new OutboundPolicy().resolve('no-such-host.invalid', 'destination')).rejects.toMatchObject({
      message: expect.stringContaining('does not resolve'),
    });
  });

  it('should give a lookup its bound, and mark a lookup that ran out or a temporary resolver failure as transient', async () => {
    let finish: () => void = () => undefined;
    const hung = new OutboundPolicy([], () => new Promise((resolve) => (finish = () => resolve([]))));
    const late = await hung.resolve('slow.example', 'destination', 50).catch((e: unknown) => e);
    expect(late).toMatchObject({ status: 400, message: 'destination: slow.example does not resolve (ETIMEOUT)' });
    expect(isTransientLookupFailure(late)).toBe(true);
    // the lookup past its bound still holds its slot until it ends on its own
    finish();
    await new Promise((r) => setImmediate(r));
    const failing = (code: string) => new OutboundPolicy([], async () => Promise.reject(Object.assign(new Error(code), { code })));
    expect(
      isTransientLookupFailure(
        await failing('EAI_AGAIN')
          .resolve('a.example', 'f')
          .catch((e: unknown) => e),
      ),
    ).toBe(true);
    expect(
      isTransientLookupFailure(
        await failing('ENOTFOUND')
          .resolve('a.example', 'f')
          .catch((e: unknown) => e),
      ),
    ).toBe(false);
  });

  it('should run at most two lookups at once, process-wide, and let the next one go when one ends', async () => {
    const pending: Array<() => void> = [];
    const asked: string[] = [];
    const slow = new OutboundPolicy(['203.0.113.0/24'], (host) => {
      asked.push(host);
      return new Promise((resolve) => pending.push(() => resolve([{ address: '203.0.113.9', family: 4 }])));
    });
    const three = ['a.example', 'b.example', 'c.example'].map((h) => slow.resolve(h, 'destination', 5_000));
    await new Promise((r) => setImmediate(r));
    expect(asked).toEqual(['a.example', 'b.example']);
    pending.shift()!();
    await three[0];
    await new Promise((r) => setImmediate(r));
    expect(asked).toEqual(['a.example', 'b.example', 'c.example']);
    for (const done of pending.splice(0)) done();
    await Promise.all(three);
  });
});
