import { KafkaConfig } from 'kafkajs';
import { KafkaSecurityConfig, readTlsFile } from '@app/common';

/**
 * kafkajs's `ssl` and `sasl` from the validated settings. The files are read here, when the client is made,
 * so an unreadable file is a configuration error naming its variable. SASL over plain TCP is allowed (a
 * broker's SASL_PLAINTEXT listener) but sends the PLAIN password in clear: the docs say to pair it with TLS.
 */
export function kafkaSecurityOptions(security: KafkaSecurityConfig): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const result: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.ssl) {
    const { caFile, certFile, keyFile, keyPassphrase } = security.ssl;
    result.ssl = {
      ...(caFile ? { ca: [readTlsFile('AUDIT_KAFKA_SSL_CA_FILE', caFile)] } : {}),
      ...(certFile ? { cert: readTlsFile('AUDIT_KAFKA_SSL_CERT_FILE', certFile) } : {}),
      ...(keyFile ? { key: readTlsFile('AUDIT_KAFKA_SSL_KEY_FILE', keyFile) } : {}),
      ...(keyPassphrase ? { passphrase: keyPassphrase } : {}),
    };
  }
  if (security.sasl) {
    const { mechanism, username, password } = security.sasl;
    // One object literal per mechanism: kafkajs types the union by its `mechanism` tag.
    result.sasl =
      mechanism === 'plain'
        ? { mechanism, username, password }
        : mechanism === 'scram-sha-256'
          ? { mechanism, username, password }
          : { mechanism, username, password };
  }
  return result;
}
