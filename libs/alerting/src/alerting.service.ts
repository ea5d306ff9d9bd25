import { Logger } from 'pino';
import { eachConcurrently } from '@app/common';
import { AuditEvent, NotFoundError, parseTimestampMicros, uuidv7, ValidationError } from '@app/contracts';
import { IngestPort } from '@app/ingest';
import { parseEventFilter } from '@app/query';
import { ComponentHealth, ConsumedEvent, OutboundPolicy } from '@app/runtime';
import { evaluate, EvaluatedRule, Firing, RuleState } from './core/evaluate';
import { checkWebhookUrl, parseRuleDefinition, RuleDefinition } from './core/rule-input';
import { newWebhookSecret, SecretBox } from './core/signing';
import {
  AlertingStore,
  DuplicateNameError,
  NotificationStore,
  StoredDelivery,
  StoredFiring,
  StoredNotification,
  StoredRule,
} from './alerting.store';
import { Mailer, retryDelay, SendOutcome, sendWebhook } from './delivery';
import { RuleCache } from './rule-cache';

/** The alerting capability as the API layer sees it: in-process in the embedded app, over TCP in the gateway. */
export interface AlertingPort {
  create(tenantId: string, body: unknown): Promise<Record<string, unknown>>;
  list(tenantId: string): Promise<Record<string, unknown>>;
  get(tenantId: string, id: string): Promise<Record<string, unknown>>;
  update(tenantId: string, id: string, body: unknown): Promise<Record<string, unknown>>;
  remove(tenantId: string, id: string): Promise<Record<string, unknown>>;
  setEnabled(tenantId: string, id: string, enabled: boolean): Promise<Record<string, unknown>>;
  test(tenantId: string, id: string): Promise<Record<string, unknown>>;
  firings(tenantId: string, id: string, limit: number): Promise<Record<string, unknown>>;
  /**
   * A delivery channel for another capability (a scheduled report): the webhook URL checked as a rule's, its
   * Standard Webhooks secret generated, sealed and answered once, e-mail addresses kept.
   */
  openChannel(tenantId: string, owner: string, body: unknown): Promise<ChannelView>;
  closeChannel(tenantId: string, id: string): Promise<{ id: string; closed: boolean }>;
  /** Queues one message on a channel (each of its webhook and e-mail), sent and retried by the delivery worker. */
  notify(tenantId: string, channelId: string, message: NotificationMessage): Promise<{ queued: number }>;
  /** A message's deliveries: status, attempts and their log. */
  notifications(tenantId: string, messageId: string): Promise<{ deliveries: Array<Record<string, unknown>> }>;
  health(): Promise<ComponentHealth>;
}

export interface ChannelView {
  id: string;
  webhook: string | null;
  email: string[];
  /** Only in the answer that created it. */
  webhook_secret?: string;
  warnings: string[];
}

export interface NotificationMessage {
  /** The caller's id for the message: the webhook-id, and the key that makes asking twice queue it once. */
  id: string;
  subject: string;
  text: string;
  /** The webhook's JSON body. */
  payload: Record<string, unknown>;
}

const SOURCE = 'homepot-audit';

function present(rule: StoredRule): Record<string, unknown> {
  return {
    id: rule.id,
    ...rule.definition,
    enabled: rule.enabled,
    webhook_secret_set: rule.webhookSecret !== null,
    created_at: rule.createdAt.toISOString(),
    updated_at: rule.updatedAt.toISOString(),
  };
}

function presentDelivery(d: StoredDelivery): Record<string, unknown> {
  return { channel: d.channel, target: d.target, status: d.status, attempts: d.attempts, log: d.log };
}

export function toEvaluated(rule: StoredRule): EvaluatedRule {
  const { filter } = parseEventFilter(rule.definition.filter, 0, false);
  return {
    id: rule.id,
    tenantId: rule.tenantId,
    eventTypes: rule.definition.event_types,
    categories: filter.categories,
    severities: filter.severities,
    metadata: filter.metadata,
    groupBy: rule.definition.group_by,
    threshold: rule.definition.threshold,
    timeWindow: rule.definition.time_window,
    cooldown: rule.definition.cooldown,
    createdAtUs: rule.createdAt.getTime() * 1000,
    silences: rule.definition.silences.map((s) => ({
      startUs: parseTimestampMicros(s.start) ?? 0,
      endUs: parseTimestampMicros(s.end) ?? 0,
    })),
  };
}

/** The body sent to webhooks (and the e-mail's text): ids and counts, no event contents (no PII in transit). */
export function notificationPayload(
  rule: StoredRule,
  firing: Pick<StoredFiring, 'id' | 'group' | 'windowStart' | 'windowEnd' | 'eventIds'>,
  test = false,
) {
  return {
    type: test ? 'alert.test' : 'alert.triggered',
    timestamp: new Date().toISOString(),
    data: {
      firing_id: firing.id,
      rule_id: rule.id,
      alert_name: rule.definition.alert_name,
      severity: rule.definition.severity,
      threshold: rule.definition.threshold,
      time_window: rule.definition.time_window,
      group: firing.group,
      window_start: firing.windowStart.toISOString(),
      window_end: firing.windowEnd.toISOString(),
      event_ids: firing.eventIds,
      events_url: `/audit/events?event_type=${rule.definition.event_types.join(',')}`,
    },
  };
}

/**
 * Rules (CRUD, test sends), the rule engine on the consumer group, and the delivery worker. Firings are
 * recorded with the rule state in one transaction; deliveries and their audit events are sent from the store
 * afterwards (an outbox), so a crash anywhere repeats at most a delivery attempt, with the same webhook-id.
 */
export class AlertingService implements AlertingPort {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private kicked = false;
  /** The enabled rules for the rule engine: read once a second or after a change here, not once per batch. */
  private readonly rules: RuleCache;
  private readonly notes: NotificationStore;

  constructor(
    private readonly store: AlertingStore,
    private readonly box: SecretBox,
    private readonly policy: OutboundPolicy,
    private readonly mailer: Mailer,
    private readonly ingest: () => IngestPort,
    private readonly logger: Logger,
    ruleCacheTtlMs?: number,
    private readonly notificationHistoryDays = 30,
  ) {
    this.rules = new RuleCache(() => this.store.enabledRules(), toEvaluated, ruleCacheTtlMs);
    this.notes = store.notificationStore();
  }

  // ---- rules ----

  private async audit(
    tenantId: string,
    eventType: string,
    description: string,
    metadata: Record<string, unknown>,
    severity = 'info',
    key?: string,
  ) {
    await this.ingest().ingest({
      events: [
        {
          event_type: eventType,
          category: 'security_events',
          severity,
          description,
          metadata,
          source: SOURCE,
          ...(key ? { idempotency_key: key } : {}),
        },
      ],
      batch: false,
      tenantId,
    });
  }

  private emailWarning(def: RuleDefinition): Record<string, unknown> {
    return def.notification.email.length > 0 && !this.mailer.available
      ? { warnings: ['e-mail cannot be delivered: AUDIT_SMTP_URL is not set; the rule is stored and its webhook works'] }
      : {};
  }

  async create(tenantId: string, body: unknown): Promise<Record<string, unknown>> {
    const { definition, unknownEventTypes } = parseRuleDefinition(body, this.policy);
    const secret = definition.notification.webhook ? newWebhookSecret() : null;
    let rule: StoredRule;
    try {
      rule = await this.store.insertRule({
        id: uuidv7(),
        tenantId,
        definition,
        enabled: definition.enabled,
        webhookSecret: secret ? this.box.seal(secret) : null,
      });
    } catch (e) {
      if (e instanceof DuplicateNameError) throw duplicate();
      throw e;
    } finally {
      this.rules.invalidate();
    }
    await this.audit(tenantId, 'alert_rule_created', `alert rule '${definition.alert_name}' created`, {
      rule_id: rule.id,
      rule: definition,
    });
    return {
      ...present(rule),
      ...(secret ? { webhook_secret: secret } : {}),
      unknown_event_types: unknownEventTypes,
      ...this.emailWarning(definition),
    };
  }

  async list(tenantId: string): Promise<Record<string, unknown>> {
    const rules = await this.store.listRules(tenantId);
    return { alerts: rules.map(present), total: rules.length };
  }

  private async find(tenantId: string, id: string): Promise<StoredRule> {
    const rule = /^[0-9a-f-]{36}$/i.test(id) ? await this.store.getRule(tenantId, id) : undefined;
    if (!rule) throw new NotFoundError(`no alert rule ${id.slice(0, 40)}`);
    return rule;
  }

  async get(tenantId: string, id: string): Promise<Record<string, unknown>> {
    return present(await this.find(tenantId, id));
  }

  async update(tenantId: string, id: string, body: unknown): Promise<Record<string, unknown>> {
    const rule = await this.find(tenantId, id);
    const { definition, unknownEventTypes } = parseRuleDefinition(body, this.policy, rule.definition);
    let secret: string | null = null;
    let sealed = rule.webhookSecret;
    if (definition.notification.webhook && !sealed) {
      secret = newWebhookSecret();
      sealed = this.box.seal(secret);
    }
    if (!definition.notification.webhook) sealed = null;
    let updated: StoredRule;
    try {
      updated = await this.store.updateRule({ ...rule, definition, enabled: definition.enabled, webhookSecret: sealed });
    } catch (e) {
      if (e instanceof DuplicateNameError) throw duplicate();
      throw e;
    } finally {
      this.rules.invalidate();
    }
    await this.audit(tenantId, 'alert_rule_updated', `alert rule '${definition.alert_name}' updated`, { rule_id: id, rule: definition });
    const added = definition.silences.filter(
      (s) => !rule.definition.silences.some((o) => o.start === s.start && o.end === s.end && o.reason === s.reason),
    );
    for (const s of added) {
      await this.audit(
        tenantId,
        'alert_silenced',
        `alert rule '${definition.alert_name}' silenced: ${s.reason}`,
        { rule_id: id, silence: s },
        'warning',
      );
    }
    return {
      ...present(updated),
      ...(secret ? { webhook_secret: secret } : {}),
      unknown_event_types: unknownEventTypes,
      ...this.emailWarning(definition),
    };
  }

  async remove(tenantId: string, id: string): Promise<Record<string, unknown>> {
    const rule = await this.find(tenantId, id);
    try {
      await this.store.deleteRule(tenantId, id);
    } finally {
      this.rules.invalidate();
    }
    await this.audit(tenantId, 'alert_rule_deleted', `alert rule '${rule.definition.alert_name}' deleted`, { rule_id: id });
    return { id, deleted: true };
  }

  async setEnabled(tenantId: string, id: string, enabled: boolean): Promise<Record<string, unknown>> {
    const rule = await this.find(tenantId, id);
    let updated: StoredRule;
    try {
      updated = await this.store.updateRule({ ...rule, enabled, definition: { ...rule.definition, enabled } });
    } finally {
      this.rules.invalidate();
    }
    await this.audit(
      tenantId,
      enabled ? 'alert_rule_enabled' : 'alert_rule_disabled',
      `alert rule '${rule.definition.alert_name}' ${enabled ? 'enabled' : 'disabled'}`,
      {
        rule_id: id,
      },
    );
    return present(updated);
  }

  async test(tenantId: string, id: string): Promise<Record<string, unknown>> {
    const rule = await this.find(tenantId, id);
    const firing = { id: `test_${uuidv7()}`, group: {}, windowStart: new Date(), windowEnd: new Date(), eventIds: [] };
    const sends = await this.sendAll(rule, firing, true);
    await this.audit(tenantId, 'alert_test_sent', `test notification of alert rule '${rule.definition.alert_name}'`, {
      rule_id: id,
      results: sends.map((s) => ({
        channel: s.channel,
        ok: s.outcome.ok,
        status: s.outcome.status ?? null,
        error: s.outcome.error ?? null,
      })),
    });
    return {
      rule_id: id,
      results: sends.map((s) => ({
        channel: s.channel,
        target: s.target,
        ok: s.outcome.ok,
        error: s.outcome.error ?? null,
        ms: s.outcome.ms,
        sent: s.outcome.request,
        response: s.outcome.response ?? null,
      })),
    };
  }

  async firings(tenantId: string, id: string, limit: number): Promise<Record<string, unknown>> {
    await this.find(tenantId, id);
    const list = await this.store.firings(tenantId, id, limit);
    return {
      firings: list.map((f) => ({
        id: f.id,
        rule_id: f.ruleId,
        group: f.group,
        window_start: f.windowStart.toISOString(),
        window_end: f.windowEnd.toISOString(),
        event_ids: f.eventIds,
        silenced: f.silenced,
        created_at: f.createdAt.toISOString(),
        deliveries: f.deliveries.map(presentDelivery),
      })),
    };
  }

  async openChannel(tenantId: string, owner: string, body: unknown): Promise<ChannelView> {
    const b = (body !== null && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const errors: Array<{ field: string; message: string }> = [];
    const webhook = checkWebhookUrl(b.webhook, this.policy, errors, 'delivery.webhook');
    const email = Array.isArray(b.email) ? (b.email as unknown[]).filter((a): a is string => typeof a === 'string') : [];
    if (errors.length > 0)
      throw new ValidationError(`invalid delivery: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
    const secret = webhook ? newWebhookSecret() : null;
    const id = uuidv7();
    await this.notes.insertChannel({ id, tenantId, owner, webhook, webhookSecret: secret ? this.box.seal(secret) : null, email });
    const warnings =
      email.length > 0 && !this.mailer.available
        ? ['e-mail cannot be delivered: AUDIT_SMTP_URL is not set; the webhook and the stored file work']
        : [];
    return { id, webhook, email, ...(secret ? { webhook_secret: secret } : {}), warnings };
  }

  async closeChannel(tenantId: string, id: string): Promise<{ id: string; closed: boolean }> {
    return { id, closed: await this.notes.deleteChannel(tenantId, id) };
  }

  async notify(tenantId: string, channelId: string, message: NotificationMessage): Promise<{ queued: number }> {
    const channel = await this.notes.channel(tenantId, channelId);
    if (!channel) throw new NotFoundError(`no delivery channel ${channelId.slice(0, 40)}`);
    const base = { id: message.id, channelId, tenantId, subject: message.subject, body: message.text, payload: message.payload };
    let queued = 0;
    if (channel.webhook) queued += await this.notes.enqueue({ ...base, channel: 'webhook', target: channel.webhook });
    if (channel.email.length > 0) queued += await this.notes.enqueue({ ...base, channel: 'email', target: channel.email.join(',') });
    if (queued > 0) this.kick();
    return { queued };
  }

  async notifications(tenantId: string, messageId: string): Promise<{ deliveries: Array<Record<string, unknown>> }> {
    const list = await this.notes.notifications(tenantId, messageId);
    return { deliveries: list.map((n) => ({ channel: n.channel, target: n.target, status: n.status, attempts: n.attempts, log: n.log })) };
  }

  async health(): Promise<ComponentHealth> {
    return {
      ok: true,
      detail: {
        email_delivery: this.mailer.available ? 'configured' : 'unavailable: AUDIT_SMTP_URL is not set, e-mail cannot be delivered',
      },
    };
  }

  // ---- the rule engine (the consumer group's handler) ----

  private queue: Promise<unknown> = Promise.resolve();

  /**
   * One consumed batch: every enabled rule of the batch's tenants evaluated under the lock of its state, states
   * and firings committed together, then the worker woken. Batches of several partitions in this process run
   * one after the other (their rules' states are shared).
   */
  handle(consumed: ConsumedEvent[]): Promise<void> {
    const run = this.queue.then(() => this.evaluateBatch(consumed.map((c) => c.event)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async evaluateBatch(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const byTenant = new Map<string, AuditEvent[]>();
    for (const e of events) {
      const list = byTenant.get(e.tenant_id);
      if (list) list.push(e);
      else byTenant.set(e.tenant_id, [e]);
    }
    const rules = await this.rules.rulesFor(byTenant.keys());
    if (rules.length === 0) return;
    const recorded = await this.store.evaluateAndCommit(
      rules.map((r) => r.rule.id),
      (current) => {
        const states = new Map<string, RuleState>();
        const firings: Array<{ firing: Firing; channels: Array<['webhook' | 'email', string]> }> = [];
        for (const { rule, evaluated } of rules) {
          const state = current.get(rule.id);
          if (!state) continue; // deleted meanwhile
          const res = evaluate(evaluated, state, byTenant.get(rule.tenantId) ?? []);
          states.set(rule.id, res.state);
          for (const firing of res.firings) firings.push({ firing, channels: this.channelsOf(rule) });
        }
        return { states, firings };
      },
    );
    if (recorded > 0) this.kick();
  }

  private channelsOf(rule: StoredRule): Array<['webhook' | 'email', string]> {
    const out: Array<['webhook' | 'email', string]> = [];
    if (rule.definition.notification.webhook) out.push(['webhook', rule.definition.notification.webhook]);
    if (rule.definition.notification.email.length > 0) out.push(['email', rule.definition.notification.email.join(',')]);
    return out;
  }

  // ---- delivery (the outbox) ----

  private async sendAll(
    rule: StoredRule,
    firing: Pick<StoredFiring, 'id' | 'group' | 'windowStart' | 'windowEnd' | 'eventIds'>,
    test: boolean,
  ) {
    const out: Array<{ channel: 'webhook' | 'email'; target: string; outcome: SendOutcome }> = [];
    for (const [channel, target] of this.channelsOf(rule))
      out.push({ channel, target, outcome: await this.sendOne(rule, firing, channel, target, test) });
    return out;
  }

  private sendOne(
    rule: StoredRule,
    firing: Pick<StoredFiring, 'id' | 'group' | 'windowStart' | 'windowEnd' | 'eventIds'>,
    channel: 'webhook' | 'email',
    target: string,
    test: boolean,
  ): Promise<SendOutcome> {
    const payload = notificationPayload(rule, firing, test);
    if (channel === 'webhook') {
      if (!rule.webhookSecret)
        return Promise.resolve({ ok: false, permanent: true, error: 'no webhook secret', ms: 0, request: { body: '' } });
      // The firing id is the webhook-id: the same on every retry and after a restart, so receivers dedupe on it.
      return sendWebhook(this.policy, target, this.box.open(rule.webhookSecret), `msg_${firing.id}`, JSON.stringify(payload));
    }
    const d = rule.definition;
    const subject = `[${d.severity}] ${test ? 'Test: ' : ''}alert ${d.alert_name}`;
    const text = [
      `Alert rule '${d.alert_name}' ${test ? 'test notification' : 'fired'}.`,
      `${d.threshold} or more matching events within ${d.time_window} s.`,
      `Firing: ${firing.id}`,
      `Group: ${JSON.stringify(firing.group)}`,
      `Window: ${firing.windowStart.toISOString()} .. ${firing.windowEnd.toISOString()}`,
      `Events: ${firing.eventIds.join(', ')}`,
    ].join('\n');
    return this.mailer.send(target.split(','), subject, text, firing.id);
  }

  private intervalMs = 500;

  start(intervalMs = 500): void {
    this.intervalMs = intervalMs;
    this.timer = setTimeout(() => this.loop(), 0);
  }

  private loop(): void {
    if (this.stopped) return;
    this.timer = undefined;
    this.running = this.work()
      .catch((e: Error) => this.logger.warn({ err: e.message }, 'alert delivery pass failed; retrying'))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        const again = this.kicked;
        this.kicked = false;
        this.timer = setTimeout(() => this.loop(), again ? 0 : this.intervalMs);
      });
  }

  /** A batch recorded firings: deliver now rather than at the next tick. */
  private kick(): void {
    if (this.running) this.kicked = true;
    else if (this.timer && !this.stopped) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.loop(), 0);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.mailer.close();
  }

  private async sendNotification(n: StoredNotification): Promise<void> {
    const channel = await this.notes.channelById(n.channelId);
    let outcome: SendOutcome;
    if (n.channel === 'webhook') {
      outcome = channel?.webhookSecret
        ? await sendWebhook(this.policy, n.target, this.box.open(channel.webhookSecret), `msg_${n.id}`, JSON.stringify(n.payload))
        : { ok: false, permanent: true, error: 'no webhook secret', ms: 0, request: { body: '' } };
    } else outcome = await this.mailer.send(n.target.split(','), n.subject, n.body, n.id);
    const { attempt, record, status, delay } = attemptOutcome(outcome, n.attempts);
    await this.notes.recordAttempt(n, record, status, delay ?? 0);
    await this.audit(
      n.tenantId,
      outcome.ok ? 'notification_sent' : 'notification_failed',
      `${channel?.owner ?? 'notification'} ${n.channel} delivery ${outcome.ok ? 'delivered' : `failed (${status})`}`,
      {
        message_id: n.id,
        owner: channel?.owner ?? null,
        channel: n.channel,
        target: n.target,
        attempt,
        status: outcome.status ?? null,
        error: outcome.error ?? null,
        outcome: status,
      },
      outcome.ok ? 'info' : 'warning',
      `notification:${n.id}:${n.channel}:${attempt}`,
    );
  }

  /** One pass: audit new firings (alert_triggered, idempotent on the firing id), then send what is due. */
  private async work(): Promise<void> {
    for (const f of await this.store.unauditedFirings(100)) {
      const rule = await this.store.ruleById(f.ruleId);
      await this.audit(
        f.tenantId,
        'alert_triggered',
        `alert '${rule?.definition.alert_name ?? f.ruleId}' ${f.silenced ? 'fired inside a silence (not notified)' : 'fired'}`,
        {
          rule_id: f.ruleId,
          firing_id: f.id,
          alert_name: rule?.definition.alert_name ?? null,
          group: f.group,
          window_start: f.windowStart.toISOString(),
          window_end: f.windowEnd.toISOString(),
          event_ids: f.eventIds,
          silenced: f.silenced,
        },
        rule?.definition.severity ?? 'warning',
        `alert_triggered:${f.id}`,
      );
      await this.store.markAudited(f.id);
    }
    // DELIVERY_CONCURRENCY at a time: a receiver that does not answer (up to its 15 s bound) holds one lane, not
    // every other rule's and tenant's delivery behind it. A claim is twice what the lanes take at once, so the
    // claim's minute-long lease covers it even when every receiver takes its whole bound.
    const deliveries = await this.store.claimDueDeliveries(CLAIM_SIZE);
    // A full claim: more may be due, so the next pass starts at once rather than after the interval.
    if (deliveries.length === CLAIM_SIZE) this.kicked = true;
    await eachConcurrently(deliveries, DELIVERY_CONCURRENCY, async (d) => {
      if (this.stopped) return;
      const firing = await this.store.firingById(d.firingId);
      const rule = firing && (await this.store.ruleById(firing.ruleId));
      if (!firing || !rule) return;
      const outcome = await this.sendOne(rule, firing, d.channel, d.target, false);
      const { attempt, record, status, delay } = attemptOutcome(outcome, d.attempts);
      await this.store.recordAttempt(d, record, status, delay ?? 0);
      await this.audit(
        firing.tenantId,
        outcome.ok ? 'alert_notification_sent' : 'alert_notification_failed',
        `alert '${rule.definition.alert_name}' ${d.channel} notification ${outcome.ok ? 'delivered' : `failed (${status})`}`,
        {
          rule_id: rule.id,
          firing_id: firing.id,
          channel: d.channel,
          target: d.target,
          attempt,
          status: outcome.status ?? null,
          error: outcome.error ?? null,
          outcome: status,
        },
        outcome.ok ? 'info' : 'warning',
        `alert_notification:${firing.id}:${d.channel}:${attempt}`,
      );
    });
    if (this.stopped) return;
    const notes = await this.notes.claimDue(CLAIM_SIZE);
    if (notes.length === CLAIM_SIZE) this.kicked = true;
    await eachConcurrently(notes, DELIVERY_CONCURRENCY, async (n) => {
      if (!this.stopped) await this.sendNotification(n);
    });
    if (this.stopped) return;
    if (Date.now() - this.lastPrunedAt >= PRUNE_EVERY_MS) {
      this.lastPrunedAt = Date.now();
      const pruned = await this.notes.pruneFinished(this.notificationHistoryDays);
      if (pruned > 0)
        this.logger.info({ pruned, days: this.notificationHistoryDays }, 'finished notification deliveries pruned from the outbox');
    }
  }

  private lastPrunedAt = 0;
}

/** Notifications sent at once by the delivery worker (each to its own receiver, from one claimed batch). */
const DELIVERY_CONCURRENCY = 8;
/** Deliveries (and notifications) claimed per pass: see work(). */
const CLAIM_SIZE = DELIVERY_CONCURRENCY * 2;

/** How often the delivery worker deletes finished notifications past AUDIT_NOTIFICATION_HISTORY_DAYS. */
const PRUNE_EVERY_MS = 3_600_000;

function duplicate(): ValidationError {
  return new ValidationError('alert_name: an alert rule with this name exists', [
    { field: 'alert_name', message: 'an alert rule with this name exists' },
  ]);
}

/** One delivery attempt's outcome as the outbox records it: the attempt's number, its record, the row's next status and retry delay. */
function attemptOutcome(outcome: SendOutcome, attempts: number) {
  const attempt = attempts + 1;
  const delay = outcome.ok || outcome.permanent ? undefined : retryDelay(attempt);
  const status = outcome.ok ? 'delivered' : outcome.status === 410 ? 'gone' : delay === undefined ? 'failed' : 'pending';
  const record = {
    at: new Date().toISOString(),
    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    ms: outcome.ms,
  };
  return { attempt, record, status, delay } as const;
}
