import { ConnectionOptions } from 'node:tls';
import { PostgresSslConfig, readTlsFile } from '@app/common';

/**
 * `pg`'s `ssl` option from libpq-style settings. `require` encrypts without checking the server (as libpq
 * does without a root certificate); `verify-ca` checks the chain but not the host name; `verify-full` both.
 */
export function postgresSslOptions(ssl: PostgresSslConfig): ConnectionOptions {
  const files: ConnectionOptions = {
    ...(ssl.caFile ? { ca: readTlsFile('AUDIT_POSTGRES_SSL_CA_FILE', ssl.caFile) } : {}),
    ...(ssl.certFile ? { cert: readTlsFile('AUDIT_POSTGRES_SSL_CERT_FILE', ssl.certFile) } : {}),
    ...(ssl.keyFile ? { key: readTlsFile('AUDIT_POSTGRES_SSL_KEY_FILE', ssl.keyFile) } : {}),
  };
  if (ssl.mode === 'require') return { ...files, rejectUnauthorized: false };
  if (ssl.mode === 'verify-ca') return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...files, rejectUnauthorized: true };
}
