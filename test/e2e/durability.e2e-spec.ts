import { randomUUID } from 'node:crypto';
import { bootApp, eventually, http, TestApp } from './support/embedded-app';

async function allIds(app: TestApp, run: string): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await http(`${app.url}/audit/events?metadata.run=${run}&limit=1000&offset=${offset}&order=asc`);
    expect(r.status).toBe(200);
    ids.push(...r.body.events.map((e: { id: string }) => e.id));
    if (r.body.next_offset === null) return ids;
  }
}

describe('durability of acknowledged events', () => {
  it('should keep every acknowledged event, once, across kill -9 and restart', async () => {
    const run = randomUUID();
    let app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' });
    const acked = new Set<string>();
    let failures = 0;
    let stop = false;
    const client = async (worker: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const batch = n % 3 !== 0;
        const body = batch
          ? Array.from({ length: 50 }, (_, i) => ({ event_type: 'device_health_check', metadata: { run, worker, n, i } }))
          : { event_type: 'device_health_check', metadata: { run, worker, n } };
        try {
          const r = await http(`${app.url}/audit/events`, { method: 'POST', json: body });
          if (r.status === 201) {
            if (batch) for (const x of r.body.results) acked.add(x.id);
            else acked.add(r.body.id);
          }
        } catch {
          failures++;
          return;
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, w) => client(w));
    await eventually(async () => (acked.size >= 5000 ? true : undefined), 30_000, '5000 acknowledged events');
    await app.kill9();
    stop = true;
    await Promise.all(clients);
    expect(failures).toBeGreaterThan(0);

    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false' }, app.dataDir);
    try {
      const ids = await eventually(
        async () => {
          const got = await allIds(app, run);
          return [...acked].every((id) => got.includes(id)) ? got : undefined;
        },
        30_000,
        'every acknowledged event after the restart',
      );
      expect(new Set(ids).size).toBe(ids.length);
      expect([...acked].filter((id) => !ids.includes(id))).toEqual([]);
      // Events written but not yet acknowledged when the process died may still be arriving: once the
      // pages and the statistics agree, every stored event has been counted once.
      await eventually(
        async () => {
          const now = await allIds(app, run);
          const stats = await http(`${app.url}/audit/statistics/detailed`);
          expect(new Set(now).size).toBe(now.length);
          return stats.body.events_by_event_type.device_health_check === now.length ? true : undefined;
        },
        30_000,
        'statistics that agree with the stored events',
      );
    } finally {
      await app.close();
    }
  }, 120_000);
});
