import type { AuditEvent } from '@app/contracts';
import { StreamReceiver } from '../../libs/siem/src/transport/test-receivers';
import { bootApp, eventually, http, TestApp } from './support/embedded-app';

/**
 * A retried batch waits out the bus's back-off; here the back-off is ten minutes, far beyond any wait below,
 * so a line that arrives at all after a resume or a change came from the "retry now" those make, not from
 * the back-off running out.
 */
const BACKOFF_MS = 600_000;
/** Generous: a delivery takes well under a second on an idle machine, and the back-off is 30 times this. */
const DELIVERY_BOUND_MS = 20_000;

describe('SIEM integrations: resume and change retry at once (embedded app)', () => {
  let app: TestApp;
  let rx: StreamReceiver;

  beforeAll(async () => {
    rx = new StreamReceiver();
    await rx.start();
    app = await bootApp({
      AUDIT_SELF_AUDIT_READS: 'false',
      AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8',
      AUDIT_CONSUMER_RETRY_BASE_MS: String(BACKOFF_MS),
      AUDIT_CONSUMER_RETRY_MAX_MS: String(BACKOFF_MS),
    });
  }, 90_000);

  afterAll(async () => {
    await app.close();
    await rx.stop();
  });

  const create = async (destination: string, eventType: string): Promise<string> => {
    const r = await http(`${app.url}/audit/integrations`, {
      method: 'POST',
      json: { type: 'syslog', destination, transport: 'tcp', framing: 'lf', format: 'JSON', filter: { event_types: [eventType] } },
    });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };

  const post = async (eventType: string): Promise<AuditEvent> => {
    const r = await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: eventType, category: 'business_events' } });
    expect(r.status).toBe(201);
    return r.body as unknown as AuditEvent;
  };

  /** The integration's consumer failed a batch at least once: it is now in its ten-minute back-off. */
  const backingOff = (id: string): Promise<true> =>
    eventually(
      async () => {
        const metrics = await fetch(`${app.url}/metrics`).then((r) => r.text());
        const m = new RegExp(`audit_consumer_batches_total\\{group="audit\\.siem\\.${id}\\.v1",outcome="failed"\\} (\\d+)`).exec(metrics);
        return m && Number(m[1]) >= 1 ? true : undefined;
      },
      20_000,
      'a failed batch',
    );

  const arrived = (e: AuditEvent): Promise<true> =>
    eventually(async () => (rx.bytes().toString().includes(e.id) ? true : undefined), DELIVERY_BOUND_MS, `event ${e.id} at the receiver`);

  it('should deliver the events held while paused as soon as the integration is resumed', async () => {
    const id = await create(`127.0.0.1:${rx.port}`, 'report_generated');
    expect((await http(`${app.url}/audit/integrations/${id}/pause`, { method: 'POST' })).body.status).toBe('paused');
    const e = await post('report_generated');
    await backingOff(id);
    expect(rx.bytes().toString()).not.toContain(e.id);

    expect((await http(`${app.url}/audit/integrations/${id}/resume`, { method: 'POST' })).body.status).toBe('active');
    await arrived(e);
    await http(`${app.url}/audit/integrations/${id}`, { method: 'DELETE' });
  }, 90_000);

  it('should try a failing integration again at once when its destination is changed', async () => {
    // given an integration whose receiver is not there (a port nothing listens on)
    const dead = new StreamReceiver();
    await dead.start();
    const deadPort = dead.port;
    await dead.stop();
    const id = await create(`127.0.0.1:${deadPort}`, 'invoice_sent');
    const e = await post('invoice_sent');
    await eventually(
      async () => {
        const r = await http(`${app.url}/audit/integrations/${id}`);
        return r.body.health.state === 'unreachable' ? true : undefined;
      },
      20_000,
      'the integration unreachable',
    );
    await backingOff(id);
    // when it is pointed at a receiver that listens
    const changed = await http(`${app.url}/audit/integrations/${id}`, { method: 'PATCH', json: { destination: `127.0.0.1:${rx.port}` } });
    expect(changed.status).toBe(200);
    // then the waiting event arrives without waiting out the back-off
    await arrived(e);
    await http(`${app.url}/audit/integrations/${id}`, { method: 'DELETE' });
  }, 90_000);
});
