import { ClickHouseTlsConfig, readTlsFile } from '@app/common';

export type ClickHouseClientTls = { ca_cert: Buffer } | { ca_cert: Buffer; cert: Buffer; key: Buffer };

/**
 * @clickhouse/client's `tls` option. Without a CA file the client uses Node's system CAs for an https URL,
 * so nothing is passed; the client takes a certificate only together with the CA.
 */
export function clickhouseTlsOptions(tls: ClickHouseTlsConfig | undefined): ClickHouseClientTls | undefined {
  if (!tls?.caFile) return undefined;
  const ca_cert = readTlsFile('AUDIT_CLICKHOUSE_TLS_CA_FILE', tls.caFile);
  if (tls.certFile && tls.keyFile) {
    return {
      ca_cert,
      cert: readTlsFile('AUDIT_CLICKHOUSE_TLS_CERT_FILE', tls.certFile),
      key: readTlsFile('AUDIT_CLICKHOUSE_TLS_KEY_FILE', tls.keyFile),
    };
  }
  return { ca_cert };
}
