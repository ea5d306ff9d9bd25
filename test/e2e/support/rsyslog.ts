import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** A port nothing listens on now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function hasRsyslog(): boolean {
  return existsSync('/usr/sbin/rsyslogd');
}

export interface RsyslogPorts {
  udp: number;
  tcp: number;
  tls: number;
}

/**
 * Debian's rsyslogd with a generated configuration: imudp, imtcp (octet counting is detected by default) and imtcp
 * with the gtls driver for RFC 5425, each writing the received message exactly (%rawmsg%, control characters
 * kept, so a LEEF tab stays a tab) as one line of its own file.
 */
export class Rsyslog {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'siem-rsyslog-'));
  private child?: ChildProcess;
  private out = '';

  constructor(
    readonly ports: RsyslogPorts,
    private readonly tls: { caFile: string; certFile: string; keyFile: string },
  ) {
    const conf = [
      `global(workDirectory="${this.dir}" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off"`,
      `  defaultNetstreamDriverCAFile="${tls.caFile}" defaultNetstreamDriverCertFile="${tls.certFile}" defaultNetstreamDriverKeyFile="${tls.keyFile}")`,
      'module(load="imudp")',
      'module(load="imtcp" streamDriver.name="ptcp")',
      'template(name="raw" type="string" string="%rawmsg%\\n")',
      ...(['udp', 'tcp', 'tls'] as const).map(
        (t) => `ruleset(name="${t}") { action(type="omfile" file="${this.file(t)}" template="raw" asyncWriting="off" flushOnTXEnd="on") }`,
      ),
      `input(type="imudp" address="127.0.0.1" port="${ports.udp}" ruleset="udp")`,
      `input(type="imtcp" address="127.0.0.1" port="${ports.tcp}" ruleset="tcp")`,
      `input(type="imtcp" address="127.0.0.1" port="${ports.tls}" ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")`,
    ].join('\n');
    writeFileSync(path.join(this.dir, 'rsyslog.conf'), `${conf}\n`);
    execFileSync('/usr/sbin/rsyslogd', ['-N1', '-f', path.join(this.dir, 'rsyslog.conf')], { stdio: 'pipe' });
  }

  file(transport: keyof RsyslogPorts): string {
    return path.join(this.dir, `${transport}.log`);
  }

  lines(transport: keyof RsyslogPorts): string[] {
    const f = this.file(transport);
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8').split('\n').slice(0, -1);
  }

  async start(): Promise<void> {
    this.child = spawn('/usr/sbin/rsyslogd', ['-n', '-f', path.join(this.dir, 'rsyslog.conf'), '-i', path.join(this.dir, 'pid')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()));
    const end = Date.now() + 10_000;
    while (!(await listening(this.ports.tcp)) || !(await listening(this.ports.tls))) {
      if (Date.now() > end) throw new Error(`rsyslogd did not listen: ${this.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM, as a receiver being restarted; waits for the exit. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    c.kill('SIGTERM');
    await new Promise<void>((r) => c.once('exit', () => r()));
  }

  output(): string {
    return this.out;
  }
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Debian's jc on one line: `jc --cef` / `jc --syslog`. */
export function jc(parser: '--cef' | '--syslog', line: string): Array<Record<string, unknown>> {
  return JSON.parse(execFileSync('jc', [parser], { input: `${line}\n`, encoding: 'utf8' })) as Array<Record<string, unknown>>;
}
