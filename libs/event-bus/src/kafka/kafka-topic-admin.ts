import { Admin, ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { Logger } from 'pino';
import { ConfigError, KafkaSecurityConfig } from '@app/common';
import { kafkaSecurityOptions } from './kafka-security';
import {
  checkTopicSettings,
  DEFAULT_TOPIC_NAMES,
  describeTopicProblem,
  KafkaTopicSettingsError,
  TopicNames,
  TopicRole,
  TopicSettingProblem,
  topicSpecs,
} from './kafka-topics';

export interface EnsureTopicsOptions {
  partitions: number;
  replicationFactor: number;
  hotWindowMs: number;
  names?: TopicNames;
  logger: Pick<Logger, 'info' | 'warn'>;
}

export interface EnsureTopicsResult {
  created: string[];
  /** Settings that weaken the rule without losing events (logged as warnings). */
  warnings: TopicSettingProblem[];
}

const errorType = (e: unknown): string => (e !== null && typeof e === 'object' ? String((e as { type?: string }).type ?? '') : '');

/**
 * Creates the event topic and the DLQ when missing (several replicas may race: "already exists" is fine),
 * then checks both topics' effective settings, whoever created them: a topic that would lose events or
 * wedge consumers throws KafkaTopicSettingsError naming each setting, before anything is published or read.
 * An existing topic is never altered: more partitions would move keys to other partitions and break the
 * per-key order, and a setting is the operator's to change; a partition-count mismatch is only reported.
 */
export async function ensureKafkaTopics(admin: Admin, options: EnsureTopicsOptions): Promise<EnsureTopicsResult> {
  const names = options.names ?? DEFAULT_TOPIC_NAMES;
  const specs = topicSpecs(options.partitions, options.replicationFactor, names);
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true, timeout: 30_000 });
    } catch (e) {
      if (/AUTHORIZATION_FAILED/.test(errorType(e))) {
        throw new ConfigError(
          `topic ${missing[0].topic}`,
          `does not exist and this service may not create it (${errorType(e)}): create the topics with \`npm run kafka:topics\` as a client that may`,
        );
      }
      throw e;
    }
    options.logger.info({ topics: missing.map((s) => s.topic) }, 'created Kafka topics');
  }
  const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: specs.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.topic })),
  });
  const problems: TopicSettingProblem[] = [];
  specs.forEach((spec, i) => {
    const role: TopicRole = i === 0 ? 'events' : 'dlq';
    const meta = topics.find((t) => t.name === spec.topic);
    if (meta && meta.partitions.length !== spec.numPartitions) {
      options.logger.warn(
        { topic: spec.topic, partitions: meta.partitions.length, configured: spec.numPartitions },
        'the topic exists with a different partition count than configured; it is left as it is',
      );
    }
    const resource = described.resources.find((r) => r.resourceName === spec.topic);
    const config = Object.fromEntries((resource?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
    const replicas = Math.min(...(meta?.partitions ?? []).map((p) => p.replicas.length));
    problems.push(
      ...checkTopicSettings(role, spec.topic, { config, replicas: Number.isFinite(replicas) ? replicas : 0 }, options.hotWindowMs),
    );
  });
  const warnings = problems.filter((p) => !p.fatal);
  for (const w of warnings)
    options.logger.warn({ topic: w.topic, setting: w.setting, found: w.found, needed: w.needed }, describeTopicProblem(w));
  const fatal = problems.filter((p) => p.fatal);
  if (fatal.length > 0) throw new KafkaTopicSettingsError(fatal);
  return { created: missing.map((s) => s.topic), warnings };
}

/**
 * `ensureKafkaTopics` on a client of its own: the `kafka:topics` command, for clusters where the services may
 * not create topics (run it as a client that may, before the services start).
 */
export async function createKafkaTopics(
  connection: { brokers: string[]; clientId: string } & KafkaSecurityConfig,
  options: EnsureTopicsOptions,
): Promise<EnsureTopicsResult> {
  const { brokers, clientId, ssl, sasl } = connection;
  const admin = new Kafka({
    brokers,
    clientId,
    ...kafkaSecurityOptions({ ssl, sasl }),
    connectionTimeout: 3000,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return await ensureKafkaTopics(admin, options);
  } finally {
    await admin.disconnect();
  }
}
