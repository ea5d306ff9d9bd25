import { octetCountedMessages, StreamReceiver, until } from '../../libs/siem/src/transport/test-receivers';
import { request } from './support/audit-api';
import { DistributedCluster } from './support/cluster';

interface IntegrationBody {
  id: string;
  status: string;
  health: { state: string; sent: number; failed: number; last_error: string | null };
}

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** The distributed mode: the gateway routes /audit/integrations to the siem-forwarder, which reads Kafka. */
describe('siem-forwarder (distributed)', () => {
  let cluster: DistributedCluster;
  const rx = new StreamReceiver();

  beforeAll(async () => {
    await rx.start();
    cluster = await DistributedCluster.start({ name: 'siem', siemEnv: { AUDIT_OUTBOUND_ALLOW: '127.0.0.0/8' } });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    await rx.stop();
  });

  it('should create an integration through the gateway and forward matching events from Kafka as octet-counted JSON', async () => {
    const url = cluster.gatewayUrl();
    const created = await request<IntegrationBody>(
      `${url}/audit/integrations`,
      json({ type: 'syslog', destination: `127.0.0.1:${rx.port}`, format: 'JSON', filter: { categories: ['security'] } }),
    );
    expect(created.status).toBe(201);
    const id = created.body.id;
    try {
      // A new integration forwards from the end of the log as of its 201 (its group's start is committed
      // before the answer), so events sent right after it are forwarded: no wait for the group to join.
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await request<{ id: string }>(`${url}/audit/events`, json({ event_type: 'login_failed', metadata: { n: i } }));
        expect(r.status).toBe(201);
        ids.push(r.body.id);
        expect((await request(`${url}/audit/events`, json({ event_type: 'job_started' }))).status).toBe(201);
      }
      await until(() => {
        const got = new Set(octetCountedMessages(rx.bytes()).map((m) => (JSON.parse(m) as { id: string }).id));
        return ids.every((i) => got.has(i));
      }, 60_000);
      const messages = octetCountedMessages(rx.bytes()).map((m) => JSON.parse(m) as { id: string; category: string });
      expect(messages.every((m) => m.category === 'security_events')).toBe(true);
      const health = await request<IntegrationBody>(`${url}/audit/integrations/${id}`);
      expect(health.status).toBe(200);
      expect(health.body.health.sent).toBeGreaterThanOrEqual(5);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${cluster.logs(40)}`);
    } finally {
      expect((await request(`${url}/audit/integrations/${id}`, { method: 'DELETE' })).status).toBe(204);
    }
  }, 120_000);

  it('should answer 400 naming the field from the forwarder through the gateway', async () => {
    const r = await request<{ error: { details: Array<{ field: string }> } }>(
      `${cluster.gatewayUrl()}/audit/integrations`,
      json({ type: 'syslog', destination: 'a:514', format: 'XML' }),
    );
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].field).toBe('format');
  });
});
