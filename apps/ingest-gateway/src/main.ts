import 'reflect-metadata';
import { INGEST_CAPABILITY } from '@app/ingest';
import { runCapabilities } from '@app/runtime';

/**
 * Validates and enriches events from the API gateway (TCP) and publishes them to Kafka, answering only after
 * acks=-1. Concurrent requests share one produce call (BatchingPublisher). Idempotency keys live in Postgres.
 */
runCapabilities('ingest-gateway', [INGEST_CAPABILITY]);
