import { DataSource, EntityManager } from 'typeorm';
import { emptyState, Firing, RuleState } from './core/evaluate';
import { RuleDefinition } from './core/rule-input';

export interface StoredRule {
  id: string;
  tenantId: string;
  definition: RuleDefinition;
  enabled: boolean;
  /** Sealed (SecretBox); null without a webhook. */
  webhookSecret: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeliveryAttempt {
  at: string;
  status?: number;
  error?: string;
  ms: number;
}

export interface StoredDelivery {
  firingId: string;
  channel: 'webhook' | 'email';
  target: string;
  status: 'pending' | 'delivered' | 'failed' | 'gone';
  attempts: number;
  nextAttemptAt: Date;
  log: DeliveryAttempt[];
}

export interface StoredFiring {
  id: string;
  ruleId: string;
  tenantId: string;
  group: Record<string, string>;
  windowStart: Date;
  windowEnd: Date;
  eventIds: string[];
  silenced: boolean;
  audited: boolean;
  createdAt: Date;
}

type Row = Record<string, unknown>;
/** TypeORM's Postgres drivers answer an UPDATE or DELETE with [rows, affected], a SELECT or INSERT with rows. */
const rowsOf = (res: unknown): Row[] =>
  Array.isArray(res) && res.length === 2 && Array.isArray(res[0]) && typeof res[1] === 'number' ? res[0] : (res as Row[]);
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toRule(r: Row): StoredRule {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    definition: json<RuleDefinition>(r.definition),
    enabled: r.enabled as boolean,
    webhookSecret: (r.webhook_secret as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

function toFiring(r: Row): StoredFiring {
  return {
    id: r.id as string,
    ruleId: r.rule_id as string,
    tenantId: r.tenant_id as string,
    group: json(r.group_key),
    windowStart: new Date(r.window_start as string),
    windowEnd: new Date(r.window_end as string),
    eventIds: json(r.event_ids),
    silenced: r.silenced as boolean,
    audited: r.audited as boolean,
    createdAt: new Date(r.created_at as string),
  };
}

function toDelivery(r: Row): StoredDelivery {
  return {
    firingId: r.firing_id as string,
    channel: r.channel as StoredDelivery['channel'],
    target: r.target as string,
    status: r.status as StoredDelivery['status'],
    attempts: Number(r.attempts),
    nextAttemptAt: new Date(r.next_attempt_at as string),
    log: json(r.log),
  };
}

const usToIso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();

/** The alerting tables in the configuration store (Postgres, or PGlite in the embedded app). */
export class AlertingStore {
  constructor(private readonly ds: DataSource) {}

  /** The other capabilities' channels and notifications, in the same store. */
  notificationStore(): NotificationStore {
    return new NotificationStore(this.ds);
  }

  async insertRule(rule: Omit<StoredRule, 'createdAt' | 'updatedAt'>): Promise<StoredRule> {
    const rows: Row[] = await this.ds.query(
      `INSERT INTO alert_rules (id, tenant_id, name, definition, enabled, webhook_secret) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, name) DO NOTHING RETURNING *`,
      [rule.id, rule.tenantId, rule.definition.alert_name, JSON.stringify(rule.definition), rule.enabled, rule.webhookSecret],
    );
    return rows.length === 0 ? Promise.reject(new DuplicateNameError()) : toRule(rows[0]);
  }

  async updateRule(rule: StoredRule): Promise<StoredRule> {
    try {
      const rows = rowsOf(
        await this.ds.query(
          `UPDATE alert_rules SET name = $3, definition = $4, enabled = $5, webhook_secret = $6, updated_at = now()
         WHERE tenant_id = $1 AND id = $2 RETURNING *`,
          [rule.tenantId, rule.id, rule.definition.alert_name, JSON.stringify(rule.definition), rule.enabled, rule.webhookSecret],
        ),
      );
      return toRule(rows[0]);
    } catch (e) {
      if (/unique|duplicate/i.test((e as Error).message)) throw new DuplicateNameError();
      throw e;
    }
  }

  async getRule(tenantId: string, id: string): Promise<StoredRule | undefined> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_rules WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0] ? toRule(rows[0]) : undefined;
  }

  async ruleById(id: string): Promise<StoredRule | undefined> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_rules WHERE id = $1', [id]);
    return rows[0] ? toRule(rows[0]) : undefined;
  }

  async listRules(tenantId: string): Promise<StoredRule[]> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_rules WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
    return rows.map(toRule);
  }

  async enabledRules(): Promise<StoredRule[]> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_rules WHERE enabled ORDER BY id');
    return rows.map(toRule);
  }

  async deleteRule(tenantId: string, id: string): Promise<boolean> {
    const rows = rowsOf(await this.ds.query('DELETE FROM alert_rules WHERE tenant_id = $1 AND id = $2 RETURNING id', [tenantId, id]));
    return rows.length > 0;
  }

  /**
   * One transaction per consumed batch: the rules' states locked (in rule id order, so two consumers never
   * deadlock), `evaluate` run on them, the new states and the firings (with a pending delivery per channel)
   * written. Replicas on other partitions wait for the lock instead of overwriting each other's state. A firing
   * already recorded (a batch replayed after a crash between this commit and the offset commit) is left as it is.
   */
  async evaluateAndCommit(
    ruleIds: string[],
    run: (states: Map<string, RuleState>) => {
      states: Map<string, RuleState>;
      firings: Array<{ firing: Firing; channels: Array<[StoredDelivery['channel'], string]> }>;
    },
  ): Promise<number> {
    if (ruleIds.length === 0) return 0;
    const sorted = [...ruleIds].sort();
    return this.ds.transaction(async (m: EntityManager) => {
      await m.query(
        `INSERT INTO alert_state (rule_id, state) SELECT r.id, $2 FROM alert_rules r WHERE r.id = ANY($1) ON CONFLICT (rule_id) DO NOTHING`,
        [sorted, JSON.stringify(emptyState())],
      );
      const rows: Row[] = await m.query('SELECT rule_id, state FROM alert_state WHERE rule_id = ANY($1) ORDER BY rule_id FOR UPDATE', [
        sorted,
      ]);
      const current = new Map<string, RuleState>(rows.map((r) => [r.rule_id as string, json<RuleState>(r.state)]));
      const { states, firings } = run(current);
      for (const [ruleId, state] of states) {
        await m.query('UPDATE alert_state SET state = $2, updated_at = now() WHERE rule_id = $1', [ruleId, JSON.stringify(state)]);
      }
      let recorded = 0;
      for (const { firing: f, channels } of firings) {
        const inserted: Row[] = await m.query(
          `INSERT INTO alert_firings (id, rule_id, tenant_id, group_key, window_start, window_end, event_ids, silenced)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM alert_rules WHERE id = $2)
           ON CONFLICT (id) DO NOTHING RETURNING id`,
          [
            f.id,
            f.ruleId,
            f.tenantId,
            JSON.stringify(f.group),
            usToIso(f.windowStartUs),
            usToIso(f.windowEndUs),
            JSON.stringify(f.eventIds),
            f.silenced,
          ],
        );
        if (inserted.length === 0) continue;
        recorded++;
        if (f.silenced) continue;
        for (const [channel, target] of channels) {
          await m.query(
            `INSERT INTO alert_deliveries (firing_id, channel, target, status) VALUES ($1, $2, $3, 'pending') ON CONFLICT DO NOTHING`,
            [f.id, channel, target],
          );
        }
      }
      return recorded;
    });
  }

  async firings(tenantId: string, ruleId: string, limit: number): Promise<Array<StoredFiring & { deliveries: StoredDelivery[] }>> {
    const rows: Row[] = await this.ds.query(
      'SELECT * FROM alert_firings WHERE tenant_id = $1 AND rule_id = $2 ORDER BY created_at DESC, id LIMIT $3',
      [tenantId, ruleId, limit],
    );
    const firings = rows.map(toFiring);
    if (firings.length === 0) return [];
    const ds: Row[] = await this.ds.query('SELECT * FROM alert_deliveries WHERE firing_id = ANY($1) ORDER BY channel, target', [
      firings.map((f) => f.id),
    ]);
    const deliveries = ds.map(toDelivery);
    return firings.map((f) => ({ ...f, deliveries: deliveries.filter((d) => d.firingId === f.id) }));
  }

  async unauditedFirings(limit: number): Promise<StoredFiring[]> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_firings WHERE NOT audited ORDER BY created_at LIMIT $1', [limit]);
    return rows.map(toFiring);
  }

  async markAudited(id: string): Promise<void> {
    await this.ds.query('UPDATE alert_firings SET audited = true WHERE id = $1', [id]);
  }

  /**
   * Due deliveries, claimed: their next attempt moved a minute ahead in the same statement (SKIP LOCKED), so
   * two replicas' workers never send the same one at once; a worker that dies mid-send leaves it due again then.
   */
  async claimDueDeliveries(limit: number): Promise<StoredDelivery[]> {
    const res: unknown = await this.ds.query(
      `UPDATE alert_deliveries d SET next_attempt_at = now() + interval '60 seconds'
       FROM (SELECT firing_id, channel, target FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= now()
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
       WHERE d.firing_id = due.firing_id AND d.channel = due.channel AND d.target = due.target
       RETURNING d.*`,
      [limit],
    );
    return rowsOf(res).map(toDelivery);
  }

  async firingById(id: string): Promise<StoredFiring | undefined> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_firings WHERE id = $1', [id]);
    return rows[0] ? toFiring(rows[0]) : undefined;
  }

  async recordAttempt(d: StoredDelivery, attempt: DeliveryAttempt, status: StoredDelivery['status'], retryInMs: number): Promise<void> {
    await this.ds.query(
      `UPDATE alert_deliveries SET status = $4, attempts = attempts + 1, log = log || $5::jsonb,
         next_attempt_at = now() + make_interval(secs => $6), updated_at = now()
       WHERE firing_id = $1 AND channel = $2 AND target = $3`,
      [d.firingId, d.channel, d.target, status, JSON.stringify([attempt]), retryInMs / 1000],
    );
  }
}

export interface StoredChannel {
  id: string;
  tenantId: string;
  owner: string;
  webhook: string | null;
  /** Sealed (SecretBox). */
  webhookSecret: string | null;
  email: string[];
}

export interface StoredNotification {
  id: string;
  channel: 'webhook' | 'email';
  channelId: string;
  tenantId: string;
  target: string;
  subject: string;
  body: string;
  payload: unknown;
  status: StoredDelivery['status'];
  attempts: number;
  log: DeliveryAttempt[];
}

function toChannel(r: Row): StoredChannel {
  return {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    owner: r.owner as string,
    webhook: (r.webhook as string | null) ?? null,
    webhookSecret: (r.webhook_secret as string | null) ?? null,
    email: json(r.email),
  };
}

function toNotification(r: Row): StoredNotification {
  return {
    id: r.id as string,
    channel: r.channel as StoredNotification['channel'],
    channelId: r.channel_id as string,
    tenantId: r.tenant_id as string,
    target: r.target as string,
    subject: r.subject as string,
    body: r.body as string,
    payload: json(r.payload),
    status: r.status as StoredNotification['status'],
    attempts: Number(r.attempts),
    log: json(r.log),
  };
}

/** Channels and notifications for other capabilities (alert_channels, alert_notifications). */
export class NotificationStore {
  constructor(private readonly ds: DataSource) {}

  async insertChannel(c: StoredChannel): Promise<void> {
    await this.ds.query(
      'INSERT INTO alert_channels (id, tenant_id, owner, webhook, webhook_secret, email) VALUES ($1, $2, $3, $4, $5, $6)',
      [c.id, c.tenantId, c.owner, c.webhook, c.webhookSecret, JSON.stringify(c.email)],
    );
  }

  async channel(tenantId: string, id: string): Promise<StoredChannel | undefined> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_channels WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0] ? toChannel(rows[0]) : undefined;
  }

  async channelById(id: string): Promise<StoredChannel | undefined> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_channels WHERE id = $1', [id]);
    return rows[0] ? toChannel(rows[0]) : undefined;
  }

  async deleteChannel(tenantId: string, id: string): Promise<boolean> {
    return (
      rowsOf(await this.ds.query('DELETE FROM alert_channels WHERE tenant_id = $1 AND id = $2 RETURNING id', [tenantId, id])).length > 0
    );
  }

  /** One row per kind of the channel; a message id already queued is left as it is (the caller may ask again). */
  async enqueue(n: Omit<StoredNotification, 'status' | 'attempts' | 'log'>): Promise<number> {
    const rows = rowsOf(
      await this.ds.query(
        `INSERT INTO alert_notifications (id, channel, channel_id, tenant_id, target, subject, body, payload, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') ON CONFLICT DO NOTHING RETURNING id`,
        [n.id, n.channel, n.channelId, n.tenantId, n.target, n.subject, n.body, JSON.stringify(n.payload)],
      ),
    );
    return rows.length;
  }

  async notifications(tenantId: string, id: string): Promise<StoredNotification[]> {
    const rows: Row[] = await this.ds.query('SELECT * FROM alert_notifications WHERE tenant_id = $1 AND id = $2 ORDER BY channel', [
      tenantId,
      id,
    ]);
    return rows.map(toNotification);
  }

  /** As claimDueDeliveries: moved a minute ahead in the claiming statement, SKIP LOCKED. */
  async claimDue(limit: number): Promise<StoredNotification[]> {
    const res: unknown = await this.ds.query(
      `UPDATE alert_notifications n SET next_attempt_at = now() + interval '60 seconds'
       FROM (SELECT id, channel FROM alert_notifications WHERE status = 'pending' AND next_attempt_at <= now()
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
       WHERE n.id = due.id AND n.channel = due.channel
       RETURNING n.*`,
      [limit],
    );
    return rowsOf(res).map(toNotification);
  }

  /**
   * Deletes the finished notifications (every status but pending) last attempted more than `days` ago, in
   * every tenant; a pending one is never deleted, however old. Returns how many went.
   */
  async pruneFinished(days: number): Promise<number> {
    return rowsOf(
      await this.ds.query(
        `DELETE FROM alert_notifications WHERE status <> 'pending' AND updated_at < now() - make_interval(days => $1) RETURNING id`,
        [days],
      ),
    ).length;
  }

  async recordAttempt(
    n: StoredNotification,
    attempt: DeliveryAttempt,
    status: StoredNotification['status'],
    retryInMs: number,
  ): Promise<void> {
    await this.ds.query(
      `UPDATE alert_notifications SET status = $3, attempts = attempts + 1, log = log || $4::jsonb,
         next_attempt_at = now() + make_interval(secs => $5), updated_at = now()
       WHERE id = $1 AND channel = $2`,
      [n.id, n.channel, status, JSON.stringify([attempt]), retryInMs / 1000],
    );
  }
}

export class DuplicateNameError extends Error {
  constructor() {
    super('an alert rule with this alert_name exists');
  }
}
