import { ConfigError } from '@app/common';
import { CapabilityOffError } from '@app/contracts';
import { Capability, offPort, selectCapabilities } from './capability';
import { definePort, serviceAddress } from './rpc/port';

const CORE: Capability = { name: 'ingest', core: true };
const EXTRA: Capability = { name: 'integrity' };
const OTHER: Capability = { name: 'siem' };

describe('selectCapabilities', () => {
  it('should split the capabilities by the names turned off, keeping their order', () => {
    const { on, off } = selectCapabilities([CORE, EXTRA, OTHER], ['siem']);
    expect(on.map((c) => c.name)).toEqual(['ingest', 'integrity']);
    expect(off.map((c) => c.name)).toEqual(['siem']);
  });

  it.each([
    ['reportin', /not a capability of this app \(ingest, integrity, siem\)/],
    ['ingest', /cannot be turned off/],
  ])('should refuse %s naming AUDIT_CAPABILITIES_OFF', (name, message) => {
    let error: unknown;
    try {
      selectCapabilities([CORE, EXTRA, OTHER], [name]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('AUDIT_CAPABILITIES_OFF');
    expect((error as Error).message).toMatch(message);
  });
});

describe('offPort', () => {
  it('should answer every method of the port with 404 capability_off naming the capability', async () => {
    interface Port {
      one(): Promise<number>;
      two(x: string): Promise<string>;
    }
    const port = definePort<Port>({
      name: 'test',
      service: 'test',
      address: serviceAddress('TEST', 4999),
      methods: {
        one: { pattern: 'a.one', encode: () => ({}), decode: () => [], deadline: 'queryMs' },
        two: { pattern: 'a.two', encode: (x) => ({ x }), decode: (m) => [String((m as { x: string }).x)], deadline: 'queryMs' },
      },
    });
    const impl = offPort(port, 'integrity');
    expect(Object.keys(impl as object).sort()).toEqual(['one', 'two']);
    for (const call of [impl.one(), impl.two('x')]) {
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CapabilityOffError);
      expect(error).toMatchObject({ status: 404, code: 'capability_off', capability: 'integrity' });
    }
  });
});
