import { Kafka, logLevel, Partitioners, Producer } from 'kafkajs';
import { deterministicUuid, TOPIC_EVENTS } from '@app/contracts';
import { KAFKA_BROKERS } from './environment';

export function testKafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
}

export function testProducer(kafka: Kafka): Producer {
  return kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
}

export interface DirectMessage {
  value: string | Buffer;
  key?: string;
}

/**
 * Produces like a third-party service would (acks=-1), to explicit partitions so the test knows each
 * record's offset and hence the id the query store derives for a message that carries none.
 */
export async function produceDirect(
  producer: Producer,
  messages: DirectMessage[],
  partition: (index: number) => number,
): Promise<Array<{ partition: number; offset: string; derivedId: string }>> {
  const withPartition = messages.map((m, i) => ({ ...m, partition: partition(i) }));
  const meta = await producer.send({ topic: TOPIC_EVENTS, acks: -1, messages: withPartition });
  const base = new Map(meta.map((m) => [m.partition, BigInt(m.baseOffset ?? '0')]));
  const seen = new Map<number, bigint>();
  return withPartition.map((m) => {
    const n = seen.get(m.partition) ?? 0n;
    seen.set(m.partition, n + 1n);
    const offset = String((base.get(m.partition) ?? 0n) + n);
    return { partition: m.partition, offset, derivedId: deterministicUuid(`${TOPIC_EVENTS}:${m.partition}:${offset}`) };
  });
}
