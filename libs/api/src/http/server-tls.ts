import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, SecureContextOptions, Server as TlsServer } from 'node:tls';
import { Logger } from 'pino';
import { ConfigError, HttpTlsConfig, readTlsFile } from '@app/common';
import { Metrics } from '@app/runtime';

/** What the HTTPS listener serves, checked; `digest` tells a changed file from an unchanged one. */
export interface ServerTlsMaterial {
  options: SecureContextOptions & { key: Buffer; cert: Buffer };
  digest: string;
  certificate: X509Certificate;
}

/**
 * Reads and checks the certificate, key and optional CA. Each failure names the variable whose file is at
 * fault, so a bad pair stops the process at start-up and a bad pair on reload says what to fix.
 */
export function loadServerTls(config: HttpTlsConfig): ServerTlsMaterial {
  const cert = readTlsFile('AUDIT_TLS_CERT_FILE', config.certFile);
  const key = readTlsFile('AUDIT_TLS_KEY_FILE', config.keyFile);
  const ca = config.caFile ? readTlsFile('AUDIT_TLS_CA_FILE', config.caFile) : undefined;
  const digest = createHash('sha256')
    .update(cert)
    .update('\0')
    .update(key)
    .update('\0')
    .update(ca ?? '')
    .digest('hex');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (e) {
    throw new ConfigError('AUDIT_TLS_CERT_FILE', `does not hold a PEM certificate (${(e as Error).message})`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey({ key, passphrase: config.passphrase });
  } catch (e) {
    const hint = config.passphrase === undefined ? '' : ' or AUDIT_TLS_KEY_PASSPHRASE does not open it';
    throw new ConfigError('AUDIT_TLS_KEY_FILE', `does not hold a usable private key${hint} (${(e as Error).message})`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError('AUDIT_TLS_KEY_FILE', 'does not match the certificate in AUDIT_TLS_CERT_FILE');
  }
  const options = { key, cert, ca, passphrase: config.passphrase };
  try {
    createSecureContext(options);
  } catch (e) {
    throw new ConfigError(ca ? 'AUDIT_TLS_CA_FILE' : 'AUDIT_TLS_CERT_FILE', `cannot be used (${(e as Error).message})`);
  }
  return { options, digest, certificate };
}

export type ReloadOutcome = 'unchanged' | 'reloaded' | 'failed';

/**
 * Re-reads the certificate files every `reloadIntervalMs` and swaps the server's context when they change,
 * without a restart and without touching open connections. Polling rather than fs.watch: a Kubernetes
 * Secret volume swaps a symlinked directory, which watchers on the file itself never see. A change that
 * does not load keeps the previous context, is logged once and counted as a failed reload.
 */
export class ServerTlsReloader {
  private timer?: NodeJS.Timeout;
  private served: string;
  private lastFailed?: string;

  constructor(
    private readonly server: Pick<TlsServer, 'setSecureContext'>,
    private readonly config: HttpTlsConfig,
    initial: ServerTlsMaterial,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {
    this.served = initial.digest;
    this.metrics.tlsCertificateExpiry.set(Date.parse(initial.certificate.validTo) / 1000);
  }

  start(): void {
    if (this.config.reloadIntervalMs <= 0) return;
    this.timer = setInterval(() => this.check(), this.config.reloadIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  check(): ReloadOutcome {
    let material: ServerTlsMaterial;
    try {
      material = loadServerTls(this.config);
    } catch (e) {
      // A half-written pair (cert replaced, key not yet) fails once and loads on the next tick.
      const variable = e instanceof ConfigError ? e.variable : undefined;
      const key = `${variable}:${(e as Error).message}`;
      if (this.lastFailed !== key) {
        this.lastFailed = key;
        this.metrics.tlsReloads.inc({ outcome: 'failed' });
        this.logger.error(
          { variable, err: (e as Error).message },
          'HTTPS certificate files changed but do not load; still serving the previous certificate',
        );
      }
      return 'failed';
    }
    if (material.digest === this.served) {
      this.lastFailed = undefined;
      return 'unchanged';
    }
    this.server.setSecureContext(material.options);
    this.served = material.digest;
    this.lastFailed = undefined;
    this.metrics.tlsReloads.inc({ outcome: 'reloaded' });
    this.metrics.tlsCertificateExpiry.set(Date.parse(material.certificate.validTo) / 1000);
    this.logger.info(
      {
        subject: material.certificate.subject,
        fingerprint256: material.certificate.fingerprint256,
        valid_to: material.certificate.validTo,
      },
      'HTTPS certificate reloaded',
    );
    return 'reloaded';
  }
}
