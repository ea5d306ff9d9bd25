import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Rules (the definition as JSON: one shape for the API, the store and the audit events), each rule's evaluation
 * state (written in the same transaction as the firings it produced, so a replayed batch finds both or neither),
 * firings with the ids of the events that made them, and one delivery per firing and channel with its log.
 */
export class CreateAlerting1764979200001 implements MigrationInterface {
  name = 'CreateAlerting1764979200001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS alert_rules (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      name text NOT NULL,
      definition jsonb NOT NULL,
      enabled boolean NOT NULL,
      webhook_secret text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (tenant_id, name)
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS alert_state (
      rule_id uuid PRIMARY KEY REFERENCES alert_rules (id) ON DELETE CASCADE,
      state jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS alert_firings (
      id uuid PRIMARY KEY,
      rule_id uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
      tenant_id text NOT NULL,
      group_key jsonb NOT NULL,
      window_start timestamptz NOT NULL,
      window_end timestamptz NOT NULL,
      event_ids jsonb NOT NULL,
      silenced boolean NOT NULL,
      audited boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS alert_firings_rule ON alert_firings (rule_id, created_at DESC)');
    await q.query(`CREATE TABLE IF NOT EXISTS alert_deliveries (
      firing_id uuid NOT NULL REFERENCES alert_firings (id) ON DELETE CASCADE,
      channel text NOT NULL,
      target text NOT NULL,
      status text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      log jsonb NOT NULL DEFAULT '[]',
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (firing_id, channel, target)
    )`);
    await q.query("CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending'");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE alert_deliveries');
    await q.query('DROP TABLE alert_firings');
    await q.query('DROP TABLE alert_state');
    await q.query('DROP TABLE alert_rules');
  }
}

/**
 * Delivery for other capabilities (reporting's scheduled reports): a channel holds a webhook (with its secret,
 * sealed like a rule's) and e-mail addresses; a notification is one message per channel kind, sent and retried
 * by the same worker as alert deliveries, keyed by the caller's message id so asking twice queues it once.
 */
export class AlertingNotifications1765324800001 implements MigrationInterface {
  name = 'AlertingNotifications1765324800001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS alert_channels (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      owner text NOT NULL,
      webhook text,
      webhook_secret text,
      email jsonb NOT NULL DEFAULT '[]',
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE IF NOT EXISTS alert_notifications (
      id text NOT NULL,
      channel text NOT NULL,
      channel_id uuid NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
      tenant_id text NOT NULL,
      target text NOT NULL,
      subject text NOT NULL,
      body text NOT NULL,
      payload jsonb NOT NULL,
      status text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      log jsonb NOT NULL DEFAULT '[]',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (id, channel)
    )`);
    await q.query("CREATE INDEX IF NOT EXISTS alert_notifications_due ON alert_notifications (next_attempt_at) WHERE status = 'pending'");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE alert_notifications');
    await q.query('DROP TABLE alert_channels');
  }
}

export const ALERTING_MIGRATIONS = [CreateAlerting1764979200001, AlertingNotifications1765324800001];
