import { ConfigError, createLogger, loadConfig } from '@app/common';
import { createKafkaTopics } from '@app/event-bus';

/**
 * Creates the event topic and the DLQ with the settings the log's guarantees need, when missing, and checks
 * both: `npm run kafka:topics`, or `node dist/apps/ingest-gateway/src/create-topics.js` in the image (the
 * Kubernetes Job `kafka-topics`). For clusters where the services may not create topics; they verify the
 * same settings at start-up and refuse to start on a topic that would lose events or wedge consumers.
 * Prints one JSON line; exits 2 naming each bad setting.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  if (config.kafka.kind !== 'kafka') throw new ConfigError('KAFKA_BROKERS', 'is required (a host:port list of Kafka brokers)');
  const { brokers, clientId, partitions, replicationFactor, hotWindowMs, ssl, sasl } = config.kafka;
  const logger = createLogger(config.logLevel, 'kafka-topics');
  const result = await createKafkaTopics({ brokers, clientId, ssl, sasl }, { partitions, replicationFactor, hotWindowMs, logger });
  process.stdout.write(
    `${JSON.stringify({ created: result.created, warnings: result.warnings.map((w) => `${w.topic} ${w.setting}=${w.found}: ${w.why}`) })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof ConfigError ? e.message : (e as Error).stack}\n`);
  process.exit(e instanceof ConfigError ? 2 : 1);
});
