import { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { AuditEvent, EventFilter, isUuid, NotFoundError, uuidv7 } from '@app/contracts';
import { SecretBox, VERSION } from '@app/common';
import type { IngestPort } from '@app/ingest';
import { ComponentHealth, ConsumedEvent, ConsumerHost, Metrics, OutboundPolicy } from '@app/runtime';
import { crossedIntoWarning, lagState } from './core/lag';
import { eventJson, renderHec, renderMessage, RenderOptions, SiemFormat } from './core/render';
import { HttpsSender } from './transport/https-sender';
import {
  Integration,
  IntegrationHealth,
  IntegrationSettings,
  IntegrationStatus,
  isHttps,
  matches,
  parseDestination,
  mapSecrets,
  parseIntegrationSettings,
  REDACTED,
  toEventFilter,
  DEFAULTS,
} from './integration';
import { SiemIntegrationEntity } from './integration.entity';
import { IntegrationView, SiemPort, TestResult } from './siem.port';
import { DeliveryError, SentBatch, SyslogSender } from './transport/syslog-sender';

/** Each integration's own consumer group: its position on the log, independent of every other integration. */
export const siemGroup = (id: string): string => `audit.siem.${id}.v1`;

export interface SiemServiceOptions {
  /** Consecutive failed deliveries after which a `siem_delivery_failing` audit event is written (once per streak). */
  failureThreshold: number;
  connectTimeoutMs: number;
  /** How long the log keeps events (AUDIT_LOG_HOT_DAYS), and the share of it at which lag is warned about. */
  hotWindowMs: number;
  lagWarnPercent: number;
}

class PausedError extends Error {
  constructor(id: string) {
    super(`integration ${id} is paused: its events wait on the log`);
  }
}

/** What delivery needs of a transport: the syslog sender and the HTTPS sender both are one. */
interface Sender {
  encode(messages: string[]): { bytes: Buffer[]; truncated: number };
  send(messages: string[]): Promise<SentBatch>;
  close(): Promise<void>;
}

interface Runtime {
  integration: Integration;
  sender: Sender;
  /** The integration's filter as the shared matcher reads it. */
  filter: EventFilter;
  health: IntegrationHealth;
  consecutiveFailures: number;
  /** When the oldest event not yet delivered was received (epoch ms); null once its batch is acknowledged. */
  oldestWaitingAtMs: number | null;
}

const freshHealth = (status: IntegrationStatus): IntegrationHealth => ({
  state: status === 'paused' ? 'paused' : 'idle',
  sent: 0,
  failed: 0,
  retried: 0,
  truncated: 0,
  lag_events: 0,
  lag_seconds: 0,
  lag_warning: null,
  last_success_at: null,
  last_error: null,
  last_error_at: null,
});

/** A row as the forwarder uses it: its secrets opened (they are sealed in the row). */
const toIntegration = (row: SiemIntegrationEntity, box: SecretBox): Integration => {
  const settings = mapSecrets(row.settings as unknown as IntegrationSettings, (sealed) => box.open(sealed));
  return {
    id: row.id,
    tenant_id: row.tenantId,
    status: row.status,
    ...settings,
    // Rows stored before a filter field existed read as its default.
    filter: { ...DEFAULTS.filter, ...settings.filter },
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
};

/**
 * The integrations (Postgres), one consumer group and one sender per integration, their health. Delivery is at
 * least once: a batch is acknowledged to the log only once its matching events were written to the receiver;
 * a failure throws, so the same batch comes again after the bus's back-off while the events wait on the log.
 */
export class SiemService implements SiemPort {
  private readonly runtimes = new Map<string, Runtime>();
  private started = false;
  private readonly messages: Counter<'integration' | 'outcome'>;
  private readonly lagGauge: Gauge<'integration'>;

  constructor(
    private readonly ds: DataSource,
    private readonly consumers: ConsumerHost,
    private readonly ingest: () => IngestPort,
    private readonly policy: OutboundPolicy,
    metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: SiemServiceOptions,
    /** Seals the integrations' secrets in Postgres (AUDIT_SECRETS_KEY). */
    private readonly box: SecretBox,
  ) {
    this.messages = new Counter({
      name: 'audit_siem_messages_total',
      help: 'Messages per SIEM integration: sent, failed (a batch that did not reach the receiver), retried, truncated',
      labelNames: ['integration', 'outcome'],
      registers: [metrics.registry],
    });
    const refresh = (): Promise<void> => this.refreshLag();
    const lags = (): Array<[string, number]> => [...this.runtimes.values()].map((r) => [r.integration.id, r.health.lag_events]);
    this.lagGauge = new Gauge({
      name: 'audit_siem_lag_events',
      help: 'Events on the log not yet delivered, per SIEM integration',
      labelNames: ['integration'],
      registers: [metrics.registry],
      async collect() {
        await refresh();
        this.reset();
        for (const [integration, lag] of lags()) this.set({ integration }, lag);
      },
    });
  }

  private repo() {
    return this.ds.getRepository(SiemIntegrationEntity);
  }

  /** Declares every stored integration's group; `afterStart` subscribes them. */
  async load(): Promise<void> {
    for (const row of await this.repo().find()) this.add(toIntegration(row, this.box));
  }

  has(id: string): boolean {
    return this.runtimes.has(id);
  }

  async afterStart(): Promise<void> {
    this.started = true;
    this.lagTimer = setInterval(() => void this.refreshLag().catch(() => undefined), 60_000);
    this.lagTimer.unref();
    for (const id of this.runtimes.keys()) await this.consumers.start(siemGroup(id));
  }

  async close(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    await Promise.all([...this.runtimes.values()].map((r) => r.sender.close()));
  }

  private sender(i: Integration): Sender {
    const resolve = (h: string): Promise<{ address: string; family: 4 | 6 }> => this.policy.resolve(h, 'destination');
    if (isHttps(i)) {
      const scheme = i.token_header.toLowerCase() === 'authorization' ? (i.type === 'hec' ? 'Splunk ' : 'Bearer ') : '';
      return new HttpsSender(
        {
          url: i.destination,
          ...(i.token !== undefined ? { auth: { header: i.token_header, value: `${scheme}${i.token}` } } : {}),
          batchMaxEvents: i.batch_max_events,
          tls: i.tls ?? undefined,
        },
        resolve,
        { timeoutMs: this.options.connectTimeoutMs * 2 },
      );
    }
    const { host, port } = parseDestination(i.destination);
    return new SyslogSender(
      { transport: i.transport, host, port, framing: i.framing, maxDatagramBytes: i.max_datagram_bytes, tls: i.tls ?? undefined },
      resolve,
      { connectTimeoutMs: this.options.connectTimeoutMs },
    );
  }

  /** One event as the integration's receiver reads it. */
  private render(i: Integration, event: AuditEvent): string {
    if (isHttps(i)) return i.format === 'HEC' ? renderHec(event, i.hostname) : eventJson(event);
    return renderMessage(event, this.renderOptions(i));
  }

  private add(integration: Integration): Runtime {
    const runtime: Runtime = {
      integration,
      sender: this.sender(integration),
      filter: toEventFilter(integration.filter),
      health: freshHealth(integration.status),
      consecutiveFailures: 0,
      oldestWaitingAtMs: null,
    };
    this.runtimes.set(integration.id, runtime);
    this.consumers.declare({
      kind: 'events',
      group: siemGroup(integration.id),
      // A new integration forwards from now on, not the log's whole history.
      fromBeginning: false,
      handle: (events) => this.deliver(integration.id, events),
    });
    return runtime;
  }

  private renderOptions(i: Integration): RenderOptions {
    return {
      format: i.format as SiemFormat,
      producer: { vendor: 'HOMEPOT', product: 'audit-service', version: VERSION },
      header: { facility: i.facility, hostname: i.hostname, appName: 'homepot-audit' },
      syslogHeader: i.syslog_header,
      sdId: 'audit@32473',
    };
  }

  private async deliver(id: string, events: ConsumedEvent[]): Promise<void> {
    const r = this.runtimes.get(id);
    // Deleted: its subscription lives until the process restarts; it acknowledges and sends nothing.
    if (!r) return;
    // The batch's first event is the oldest waiting until the batch is acknowledged (a batch comes again, in
    // order, until it is).
    if (events.length > 0) r.oldestWaitingAtMs ??= Date.parse(events[0].event.received_at);
    if (r.integration.status === 'paused') throw new PausedError(id);
    const i = r.integration;
    const messages = events.filter((e) => matches(i.tenant_id, r.filter, e.event)).map((e) => this.render(i, e.event));
    if (messages.length === 0) {
      r.oldestWaitingAtMs = null;
      return;
    }
    if (r.health.last_error_at !== null && r.consecutiveFailures > 0) {
      r.health.retried += messages.length;
      this.messages.inc({ integration: id, outcome: 'retried' }, messages.length);
    }
    r.health.state = 'delivering';
    try {
      const sent = await r.sender.send(messages);
      r.health.sent += messages.length;
      r.health.truncated += sent.truncated;
      r.health.last_success_at = new Date().toISOString();
      r.health.state = 'idle';
      r.consecutiveFailures = 0;
      r.oldestWaitingAtMs = null;
      this.messages.inc({ integration: id, outcome: 'sent' }, messages.length);
      if (sent.truncated) this.messages.inc({ integration: id, outcome: 'truncated' }, sent.truncated);
    } catch (e) {
      const why = e instanceof DeliveryError ? e.message : String(e);
      r.health.failed += messages.length;
      r.health.last_error = why;
      r.health.last_error_at = new Date().toISOString();
      r.health.state = 'unreachable';
      r.consecutiveFailures++;
      this.messages.inc({ integration: id, outcome: 'failed' }, messages.length);
      this.logger.warn(
        { integration: id, destination: r.integration.destination, err: why },
        'SIEM delivery failed; the batch waits on the log',
      );
      if (r.consecutiveFailures === this.options.failureThreshold) {
        await this.audit(r.integration, 'siem_delivery_failing', 'warning', `SIEM delivery to ${r.integration.destination} failing`, {
          consecutive_failures: r.consecutiveFailures,
          last_error: why.slice(0, 500),
        }).catch(() => undefined);
      }
      throw e;
    }
  }

  private async refreshLag(): Promise<void> {
    const lag = await this.consumers.lag().catch(() => ({}) as Record<string, number>);
    const nowMs = Date.now();
    for (const r of this.runtimes.values()) {
      r.health.lag_events = lag[siemGroup(r.integration.id)] ?? 0;
      const before = r.health.lag_warning;
      const state = lagState({
        lagEvents: r.health.lag_events,
        oldestWaitingAtMs: r.oldestWaitingAtMs,
        nowMs,
        hotWindowMs: this.options.hotWindowMs,
        warnFraction: this.options.lagWarnPercent / 100,
      });
      r.health.lag_seconds = state.lag_seconds;
      r.health.lag_warning = state.warning;
      if (crossedIntoWarning(before, state.warning)) {
        this.logger.warn({ integration: r.integration.id, warning: state.warning }, 'SIEM integration lagging toward the hot window');
        await this.audit(r.integration, 'siem_lag_warning', 'warning', `SIEM integration to ${r.integration.destination} lagging`, {
          lag_events: r.health.lag_events,
          lag_seconds: state.lag_seconds,
          hot_window_seconds: Math.floor(this.options.hotWindowMs / 1000),
        });
      }
    }
  }

  /** Checks the lag now and then, so the warning's audit event is written even when nobody reads the health. */
  private lagTimer?: NodeJS.Timeout;

  /** What an answer shows: every secret redacted. */
  private async view(r: Runtime): Promise<IntegrationView> {
    return { ...(mapSecrets(r.integration, () => REDACTED) as Integration), health: { ...r.health } };
  }

  private runtime(tenantId: string, id: string): Runtime {
    const r = isUuid(id) ? this.runtimes.get(id) : undefined;
    if (!r || r.integration.tenant_id !== tenantId) throw new NotFoundError(`integration ${id.slice(0, 64)} not found`);
    return r;
  }

  /** Configuration changes are audit events (written through ingest like any producer's). */
  private async audit(
    i: Integration,
    eventType: string,
    severity: 'info' | 'warning',
    description: string,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    // The change is made either way; a lost audit event is logged loudly rather than undoing it.
    await this.ingest()
      .ingest({
        tenantId: i.tenant_id,
        batch: false,
        source: 'homepot-audit',
        events: [
          {
            event_type: eventType,
            category: 'system_events',
            severity,
            description,
            source: 'homepot-audit',
            metadata: {
              integration_id: i.id,
              destination: i.destination,
              format: i.format,
              transport: isHttps(i) ? 'https' : i.transport,
              ...extra,
            },
          },
        ],
      })
      .catch((e: unknown) =>
        this.logger.error(
          { integration: i.id, event_type: eventType, err: (e as Error).message },
          'could not write the audit event of a SIEM integration change',
        ),
      );
  }

  private sealed(settings: IntegrationSettings): Record<string, unknown> {
    return mapSecrets(settings, (clear) => this.box.seal(clear)) as unknown as Record<string, unknown>;
  }

  async create(tenantId: string, body: unknown): Promise<IntegrationView> {
    const settings = parseIntegrationSettings(body);
    const now = new Date();
    const row = this.repo().create({
      id: uuidv7(),
      tenantId,
      status: 'active',
      settings: this.sealed(settings),
      createdAt: now,
      updatedAt: now,
    });
    await this.repo().save(row);
    const r = this.add(toIntegration(row, this.box));
    if (this.started) await this.consumers.start(siemGroup(row.id));
    await this.audit(r.integration, 'siem_integration_created', 'info', `SIEM integration to ${settings.destination} created`);
    return this.view(r);
  }

  async list(tenantId: string): Promise<IntegrationView[]> {
    await this.refreshLag();
    const mine = [...this.runtimes.values()].filter((r) => r.integration.tenant_id === tenantId);
    return Promise.all(mine.map((r) => this.view(r)));
  }

  async get(tenantId: string, id: string): Promise<IntegrationView> {
    const r = this.runtime(tenantId, id);
    await this.refreshLag();
    return this.view(r);
  }

  async update(tenantId: string, id: string, body: unknown): Promise<IntegrationView> {
    const r = this.runtime(tenantId, id);
    const { id: _i, tenant_id: _t, status: _s, created_at: _c, updated_at: _u, ...current } = r.integration;
    const settings = parseIntegrationSettings(body, current);
    const updatedAt = new Date();
    await this.repo().update({ id }, { settings: this.sealed(settings) as never, updatedAt });
    const old = r.sender;
    r.integration = { ...r.integration, ...settings, updated_at: updatedAt.toISOString() };
    r.sender = this.sender(r.integration);
    r.filter = toEventFilter(r.integration.filter);
    await old.close().catch(() => undefined);
    // A batch backing off after failures to the old destination or settings is tried on the new ones now.
    this.consumers.retryNow(siemGroup(id));
    await this.audit(r.integration, 'siem_integration_updated', 'info', `SIEM integration to ${settings.destination} changed`, {
      changed: Object.keys(body as object),
    });
    return this.view(r);
  }

  async remove(tenantId: string, id: string): Promise<{ id: string }> {
    const r = this.runtime(tenantId, id);
    await this.repo().delete({ id });
    this.runtimes.delete(id);
    await r.sender.close().catch(() => undefined);
    await this.audit(r.integration, 'siem_integration_deleted', 'info', `SIEM integration to ${r.integration.destination} deleted`);
    return { id };
  }

  async setStatus(tenantId: string, id: string, status: IntegrationStatus): Promise<IntegrationView> {
    const r = this.runtime(tenantId, id);
    if (r.integration.status !== status) {
      const updatedAt = new Date();
      await this.repo().update({ id }, { status, updatedAt });
      r.integration = { ...r.integration, status, updated_at: updatedAt.toISOString() };
      r.health.state = status === 'paused' ? 'paused' : 'idle';
      // The paused batches back off (up to AUDIT_CONSUMER_RETRY_MAX_MS): resumed, they go at once.
      if (status === 'active') this.consumers.retryNow(siemGroup(id));
      await this.audit(
        r.integration,
        status === 'paused' ? 'siem_integration_paused' : 'siem_integration_resumed',
        'info',
        `SIEM integration to ${r.integration.destination} ${status === 'paused' ? 'paused' : 'resumed'}`,
      );
    }
    return this.view(r);
  }

  /** Sends one synthetic event on a connection of its own (the delivery's is left alone) and shows the bytes. */
  async test(tenantId: string, id: string): Promise<TestResult> {
    const r = this.runtime(tenantId, id);
    const i = r.integration;
    const at = new Date();
    const iso = `${at.toISOString().slice(0, 23)}000Z`;
    const event: AuditEvent = {
      schema_version: 1,
      id: uuidv7(at.getTime()),
      tenant_id: tenantId,
      event_type: 'siem_test',
      category: 'system_events',
      severity: 'info',
      description: 'HOMEPOT Audit SIEM integration test',
      metadata: { integration_id: i.id },
      timestamp: iso,
      received_at: iso,
      ip_address: '',
      user_agent: '',
      session_id: '',
      source: 'homepot-audit',
      idempotency_key: '',
    };
    const message = this.render(i, event);
    const sender = this.sender(i);
    const [bytes] = sender.encode([message]).bytes;
    let error: string | null = null;
    try {
      await sender.send([message]);
    } catch (e) {
      error = (e as Error).message;
    } finally {
      await sender.close().catch(() => undefined);
    }
    return {
      outcome: error === null ? 'sent' : 'failed',
      bytes: bytes.toString('utf8'),
      bytes_base64: bytes.toString('base64'),
      transport: isHttps(i) ? 'https' : i.transport,
      destination: i.destination,
      error,
      event_id: event.id,
    };
  }

  async health(): Promise<ComponentHealth> {
    const unreachable = [...this.runtimes.values()].filter((r) => r.health.state === 'unreachable').map((r) => r.integration.id);
    const lagging = [...this.runtimes.values()].filter((r) => r.health.lag_warning !== null).map((r) => r.integration.id);
    return { ok: true, detail: { integrations: this.runtimes.size, unreachable, lagging } };
  }
}
