import { ConcurrencyLimit, ConfigError, defineConfigSection, env } from '@app/common';
import { lookup } from 'node:dns/promises';
import type { ClientRequest } from 'node:http';
import { BlockList, isIP, LookupFunction } from 'node:net';
import { ValidationError } from '@app/contracts';

/**
 * Where the service may connect on a user's behalf (webhooks, SIEM receivers, object storage): public
 * addresses, plus what the deployment lists in AUDIT_OUTBOUND_ALLOW (CIDRs and host names, for receivers on
 * premises and for tests). Private, loopback, link-local, CGNAT, multicast and cloud metadata addresses are
 * refused otherwise, and the address checked is the one connected to (`resolveOutbound` pins it), so a DNS
 * answer that changes between the check and the connection cannot reach what was refused.
 */
/**
 * Host-name lookups in flight at once, process-wide. `dns.lookup` (getaddrinfo, which reads /etc/hosts as the
 * connection will) runs on libuv's pool of 4 threads, the pool the event log's writes and fsyncs use too: a
 * resolver that hangs for seconds must not take every thread of it, whatever number of receivers is tried.
 */
const LOOKUPS = new ConcurrencyLimit(2);
/** How long a host-name lookup (with its wait for a slot) may take before the send it is for fails, for now. */
export const LOOKUP_TIMEOUT_MS = 5_000;

/** Whether a failure of OutboundPolicy.resolve may pass (a lookup that ran out of time, EAI_AGAIN). */
export const isTransientLookupFailure = (e: unknown): boolean => (e as { transient?: unknown })?.transient === true;

export class OutboundPolicy {
  private readonly allowed = new BlockList();
  private readonly allowedHosts: Set<string>;

  constructor(
    readonly allowList: string[] = [],
    /** getaddrinfo, as the connection would resolve the name; unit tests give a fake. */
    private readonly lookupHost: (host: string) => Promise<Array<{ address: string; family: number }>> = (h) => lookup(h, { all: true }),
  ) {
    const hosts: string[] = [];
    for (const entry of allowList) {
      const [addr, bits] = entry.split('/');
      const family = isIP(addr);
      if (family === 0) {
        hosts.push(entry.toLowerCase());
        continue;
      }
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.allowed.addAddress(addr, type);
      else this.allowed.addSubnet(addr, Number(bits), type);
    }
    this.allowedHosts = new Set(hosts);
  }

  /** Why an address is refused, or undefined when it may be used. */
  refusal(host: string, given: string): string | undefined {
    // An IPv4-mapped IPv6 address reaches the IPv4 host it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(given);
    const address = mapped ? mapped[1] : given;
    const family = isIP(address);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (this.allowedHosts.has(host.toLowerCase()) || this.allowed.check(address, type)) return undefined;
    if (RESTRICTED.check(address, type)) {
      return `${address} is a private, loopback, link-local or metadata address; list it (or ${host}) in AUDIT_OUTBOUND_ALLOW to allow it`;
    }
    return undefined;
  }

  /**
   * The address to connect to for `host`: resolved once, every answer checked. Throws a ValidationError
   * naming `field` when the host does not resolve or an answer is refused. A lookup (with its wait for one of
   * the LOOKUPS slots) gets `timeoutMs`; one that runs out, or a resolver's temporary failure (EAI_AGAIN), is
   * marked `transient` on the error, so a sender tries again later instead of giving up on the receiver.
   */
  async resolve(host: string, field: string, timeoutMs = LOOKUP_TIMEOUT_MS): Promise<{ address: string; family: 4 | 6 }> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    let answers: Array<{ address: string; family: number }>;
    if (isIP(bare)) answers = [{ address: bare, family: isIP(bare) }];
    else {
      let timer: NodeJS.Timeout | undefined;
      try {
        // The lookup itself cannot be cancelled: past the bound it finishes (and frees its slot) on its own.
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('lookup timed out'), { code: 'ETIMEOUT' })), timeoutMs);
        });
        answers = await Promise.race([LOOKUPS.run(() => this.lookupHost(bare)), late]);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error';
        throw Object.assign(
          new ValidationError(`${field}: ${bare} does not resolve (${code})`, [{ field, message: `${bare} does not resolve` }]),
          { transient: code === 'ETIMEOUT' || code === 'EAI_AGAIN' },
        );
      } finally {
        clearTimeout(timer);
      }
    }
    for (const a of answers) {
      const why = this.refusal(bare, a.address);
      if (why) throw new ValidationError(`${field}: ${why}`, [{ field, message: why }]);
    }
    return { address: answers[0].address, family: answers[0].family === 6 ? 6 : 4 };
  }
}

/**
 * A `lookup` for http(s).request / net.connect that answers only the address the policy checked, so the
 * connection goes where `resolve` said (webhooks, SIEM HTTPS receivers).
 */
export function pinnedLookup(pinned: { address: string; family: 4 | 6 }): LookupFunction {
  return (_host, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
}

/** The ranges an outbound connection may not reach unless allowed (RFC 1918, 6598, 3927, 4193, 4291, ...). */
const RESTRICTED = (() => {
  const b = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const)
    b.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [
    ['::', 128],
    ['::1', 128],
    ['64:ff9b::', 96],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
  ] as const)
    b.addSubnet(net, bits, 'ipv6');
  return b;
})();

/** AUDIT_OUTBOUND_ALLOW: CIDRs, addresses and host names that outbound connections may reach though private. */
export const OUTBOUND_CONFIG = defineConfigSection({
  name: 'outbound',
  variables: ['AUDIT_OUTBOUND_ALLOW'],
  parse: (e) => {
    const list = env.list(e, 'AUDIT_OUTBOUND_ALLOW');
    for (const entry of list) {
      if (!/^[A-Za-z0-9.:-]+(\/\d{1,3})?$/.test(entry)) {
        throw new ConfigError('AUDIT_OUTBOUND_ALLOW', `entry '${entry.slice(0, 60)}' is not a CIDR, an address or a host name`);
      }
    }
    return new OutboundPolicy(list);
  },
});

/**
 * A bound on a whole outbound request (connect, send, the whole answer), where the `timeout` option of
 * http(s).request is only an idle socket's: a receiver that sends a byte now and then would otherwise hold the
 * sender for as long as it likes. The request is destroyed with `error()` at `ms`; the timer goes with it.
 */
export function boundRequest(req: ClientRequest, ms: number, error: () => Error): void {
  const timer = setTimeout(() => req.destroy(error()), ms);
  req.once('close', () => clearTimeout(timer));
}
