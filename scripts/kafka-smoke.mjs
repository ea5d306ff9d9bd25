// Smoke test for the local broker started by scripts/kafka.sh: proves kafkajs talks to it.
// Creates a fresh topic, produces 1000 messages with acks=-1, consumes them back with a consumer
// group, checks every message arrived, deletes the group and topic and prints OK.
//   node scripts/kafka-smoke.mjs            (kafkajs must be resolvable: project deps or NODE_PATH)
//   KAFKA_BROKERS=127.0.0.1:9092 (default)
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
// ESM import does not honour NODE_PATH; require() does, so resolve kafkajs through it.
const { Kafka, logLevel } = require('kafkajs');

const brokers = (process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_PORT ?? 9092}`).split(',');
const N = 1000;
const topic = `smoke-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const kafka = new Kafka({ clientId: 'homepot-kafka-smoke', brokers, logLevel: logLevel.WARN });
const admin = kafka.admin();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const consumer = kafka.consumer({ groupId: `${topic}-g` });

const timeout = setTimeout(() => {
  console.error('kafka-smoke: TIMEOUT after 60s');
  process.exit(1);
}, 60_000);

try {
  const t0 = Date.now();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });

  await producer.connect();
  const messages = Array.from({ length: N }, (_, i) => ({ key: `k${i % 17}`, value: String(i) }));
  for (let i = 0; i < N; i += 100) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 100) });
  }
  const offsets = await admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
  if (total !== N) throw new Error(`expected ${N} messages in topic, offsets say ${total}`);

  const seen = new Set();
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.add(message.value.toString());
      if (seen.size === N) resolveDone();
    },
  });
  await done;
  for (let i = 0; i < N; i++) if (!seen.has(String(i))) throw new Error(`message ${i} missing`);

  await consumer.disconnect();
  await producer.disconnect();
  await admin.deleteGroups([`${topic}-g`]);
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  clearTimeout(timeout);
  console.log(`OK kafka-smoke: ${N} messages produced (acks=-1) and consumed on ${brokers} in ${Date.now() - t0}ms`);
} catch (err) {
  console.error('kafka-smoke: FAILED', err);
  process.exit(1);
}
