import { ConfigError, loadConfig } from './config';

const DAY = 24 * 3600 * 1000;

describe(`${loadConfig.name}: the event log's system-of-record settings`, () => {
  it('should keep a 7-day hot window by default in both modes', () => {
    expect(loadConfig({}).kafka).toMatchObject({ kind: 'embedded', hotWindowMs: 7 * DAY });
    expect(loadConfig({ KAFKA_BROKERS: 'k:9092' }).kafka).toMatchObject({ kind: 'kafka', hotWindowMs: 7 * DAY, registeredGroups: [] });
  });

  it('should read AUDIT_LOG_HOT_DAYS and KAFKA_REGISTERED_GROUPS', () => {
    const kafka = loadConfig({
      KAFKA_BROKERS: 'k:9092',
      AUDIT_LOG_HOT_DAYS: '30',
      KAFKA_REGISTERED_GROUPS: 'audit.alerting.v1, audit.siem.v1',
    }).kafka;
    expect(kafka).toMatchObject({ hotWindowMs: 30 * DAY, registeredGroups: ['audit.alerting.v1', 'audit.siem.v1'] });
  });

  it('should refuse a hot window of zero days or a group id a Kafka tool could not name, naming the variable', () => {
    expect(() => loadConfig({ AUDIT_LOG_HOT_DAYS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ AUDIT_LOG_HOT_DAYS: '0' })).toThrow('AUDIT_LOG_HOT_DAYS must be between 1 and 3650');
    expect(() => loadConfig({ KAFKA_BROKERS: 'k:9092', KAFKA_REGISTERED_GROUPS: 'ok,not ok' })).toThrow(
      'KAFKA_REGISTERED_GROUPS entry 2 is not a consumer group id',
    );
  });
});
