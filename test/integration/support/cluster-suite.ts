import { Kafka, Producer } from 'kafkajs';
import { ClusterOptions, DistributedCluster } from './cluster';
import { acquireExclusive } from './exclusive-lock';
import { testKafka, testProducer } from './kafka-producer';

export interface ClusterSuite {
  readonly cluster: DistributedCluster;
  readonly kafka: Kafka;
  /** A connected kafkajs producer standing for a third-party service. */
  readonly producer: Producer;
}

/**
 * The set-up every suite on the distributed deployment shares: the broker lock, the cluster and a direct
 * Kafka client, started before the suite's tests and stopped after them (`beforeStop` runs first, e.g. to
 * bring a stopped broker back for the suites after this one).
 */
export function useClusterSuite(
  options: ClusterOptions,
  hooks: { beforeStop?: () => Promise<unknown>; stopTimeoutMs?: number } = {},
): ClusterSuite {
  let release: (() => void) | undefined;
  let cluster: DistributedCluster | undefined;
  let kafka: Kafka | undefined;
  let producer: Producer | undefined;

  beforeAll(async () => {
    release = await acquireExclusive();
    cluster = await DistributedCluster.start(options);
    kafka = testKafka(`audit-int-${options.name}`);
    producer = testProducer(kafka);
    await producer.connect();
  }, 240_000);

  afterAll(async () => {
    await hooks.beforeStop?.();
    await producer?.disconnect();
    await cluster?.stop();
    release?.();
  }, hooks.stopTimeoutMs ?? 120_000);

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the ${what} did not start`);
    return value;
  };
  return {
    get cluster() {
      return started(cluster, 'cluster');
    },
    get kafka() {
      return started(kafka, 'Kafka client');
    },
    get producer() {
      return started(producer, 'Kafka producer');
    },
  };
}
