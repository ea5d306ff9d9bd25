import { performance } from 'node:perf_hooks';
import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import { normalizeEvent, nowMicros, serializeEvent, uuidv7 } from '@app/contracts';
import { BatchingPublisher } from '@app/ingest';
import { eventBatch } from '../lib/mix';

interface Input {
  brokers: string[];
  partitions: number;
  batches: number;
  batchSize: number;
  concurrency: number;
}

/**
 * The limit for distributed ingest: the same messages the ingest gateway writes (serialized events, keyed by
 * device), produced with kafkajs straight to the same broker with the same producer settings (acks=-1, no
 * compression), `concurrency` sends of `batchSize` messages in flight, to a scratch topic deleted afterwards.
 */
async function main(): Promise<void> {
  const input = JSON.parse(process.env.BENCH_INPUT ?? '{}') as Input;
  const kafka = new Kafka({ clientId: 'homepot-bench', brokers: input.brokers, logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench.raw-produce.${process.pid}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: input.partitions, replicationFactor: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const receivedAtMicros = nowMicros();
    const template = eventBatch(input.batchSize).map((e) => {
      const r = normalizeEvent(e, { tenantId: 'default', receivedAtMicros, trustTenantField: false, ipAddress: '127.0.0.1' });
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.event;
    });
    const messagesFor = (): Array<{ key: string; value: string }> =>
      template.map((e) => {
        const event = { ...e, id: uuidv7() };
        return { key: BatchingPublisher.keyOf(event), value: serializeEvent(event) };
      });
    const send = (messages: Array<{ key: string; value: string }>): Promise<unknown> =>
      producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
    await send(messagesFor());
    const batches = Array.from({ length: input.batches }, messagesFor);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: input.concurrency }, async () => {
        while (next < batches.length) await send(batches[next++]);
      }),
    );
    const ms = performance.now() - t0;
    const messages = input.batches * input.batchSize;
    process.stdout.write(`${JSON.stringify({ messages, ms, perS: messages / (ms / 1000) })}\n`);
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
