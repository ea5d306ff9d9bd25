export * from './backoff';
export * from './event-bus.port';
export * from './file-log/file-log.bus';
export * from './file-log/topic-log';
export * from './kafka/circuit-breaker';
export * from './kafka/kafka-topics';
export * from './kafka/kafka.bus';
