import * as path from 'node:path';

/** Shared by the global setup and the tests: where the real servers of the integration tier are. */
export const ROOT = path.resolve(__dirname, '../../..');
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;
export const TEST_DATABASE_URL = process.env.AUDIT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** scripts/s3proxy.sh's defaults (the global setup starts it): its endpoint and the identity it accepts. */
export const S3PROXY_ENDPOINT = `http://127.0.0.1:${process.env.S3PROXY_PORT ?? '9780'}`;
export const S3PROXY_CREDENTIALS = { accessKeyId: 'local-identity', secretAccessKey: 'local-credential' };
