import { randomBytes } from 'node:crypto';
import { AuditEvent } from '@app/contracts';
import { leafHashOf, openCheckpoint, parseVerifierKey, verifyInclusion } from '@app/integrity';
import { BatchResult, newRunId, postEvents, request, waitForTotal } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';

interface Proof {
  leaf_index: number;
  tree_size: number;
  leaf_hash: string;
  proof: string[];
  checkpoint: { note: string };
}

describe('integrity in the distributed deployment: its own app on Kafka and Postgres, behind the gateway', () => {
  const runId = newRunId('integrity');
  // Its own tenant: the topic, the consumer group and the Postgres tables are shared with other suites' runs.
  const tenant = runId.replace(/[^a-z0-9-]/g, '-');
  // The key from configuration, as a deployment with replicas has it (a generated one needs the passphrase).
  const suite = useClusterSuite({
    name: 'integrity',
    integrity: true,
    env: { AUDIT_INTEGRITY_KEY: randomBytes(32).toString('hex') },
    // Only the gateway's anonymous requests are this tenant's: the services keep 'default' for the shared
    // topic's tenant-less records, which a fresh integrity group reads and the shared query-store group does not.
    gatewayEnv: { AUDIT_DEFAULT_TENANT: tenant },
  });
  const gw = (): string => suite.cluster.gatewayUrl(0);

  it('should tree the events consumed from Kafka, sign a checkpoint, prove inclusion and verify the store', async () => {
    // The tenant is this run's own (see gatewayEnv); the window is this test's too.
    const from = new Date(Date.now() - 1000).toISOString();
    const posted = await postEvents<BatchResult>(
      gw(),
      Array.from({ length: 4 }, (_, i) => ({ event_type: 'user_login', metadata: { run_id: runId, i } })),
    );
    expect(posted.status).toBe(201);
    const ids = posted.body.results.map((r) => r.id as string);
    expect(await waitForTotal(gw(), runId, 4, 60_000)).toBe(4);

    const key = await request<{ verifier_key: string }>(`${gw()}/audit/integrity/public-key`);
    expect(key.status).toBe(200);
    const deadline = Date.now() + 150_000;
    let proof: Proof | undefined;
    while (proof === undefined && Date.now() < deadline) {
      const c = await request(`${gw()}/audit/integrity/checkpoint`, { method: 'POST' });
      expect(c.status).toBe(201);
      const p = await request<Proof>(`${gw()}/audit/events/${ids[3]}/proof`);
      if (p.status === 200) proof = p.body;
      else await new Promise((r) => setTimeout(r, 250));
    }
    if (proof === undefined) throw new Error(`no proof within 150 s:\n${suite.cluster.logs(15)}`);
    const checkpoint = openCheckpoint(proof!.checkpoint.note, [parseVerifierKey(key.body.verifier_key)], `homepot-audit/${tenant}`);
    const event = (await request<AuditEvent>(`${gw()}/audit/events/${ids[3]}`)).body;
    expect(
      verifyInclusion(
        proof!.leaf_index,
        checkpoint.size,
        leafHashOf(event),
        proof!.proof.map((h) => Buffer.from(h, 'base64')),
        checkpoint.rootHash,
      ),
    ).toBe(true);

    const report = await request<{ ok: boolean; modified: unknown[]; removed: unknown[]; leaves_checked: number }>(
      `${gw()}/audit/integrity/verify`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ from }) },
    );
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ ok: true, modified: [], removed: [] });
    expect(report.body.leaves_checked).toBeGreaterThanOrEqual(4);

    // The operations endpoints answer through the gateway too (the query-store's port).
    const perf = await request<{ store: { tables: unknown[] } }>(`${gw()}/audit/performance`);
    expect(perf.status).toBe(200);
    expect(perf.body.store.tables.length).toBeGreaterThan(0);
    // The optimize plan asks the query-store and, for the idempotency keys past their window, the ingest-gateway.
    const plan = await request<{ dry_run: boolean; actions: Array<{ action: string; reason: string }> }>(`${gw()}/audit/optimize`);
    expect(plan.status).toBe(200);
    expect(plan.body.dry_run).toBe(true);
    expect(plan.body.actions.find((a) => a.action === 'expire_idempotency_keys')?.reason).toMatch(
      /^\d+ idempotency key\(s\) older than their 24 h window would be deleted/,
    );
  }, 240_000);

  it('should track a source in the integrity service: gap reported as an event through ingest, closed when it arrives', async () => {
    const source = `till-${runId}`.slice(0, 100);
    const sources = async () =>
      request<{ sources: Array<{ source: string; last_sequence: number; gaps_open: Array<{ from: number; to: number }> }> }>(
        `${gw()}/audit/sources`,
      );
    for (const sequence of [1, 2, 4]) {
      expect((await postEvents(gw(), [{ event_type: 'device_registered', source, sequence, metadata: { run_id: runId } }])).status).toBe(
        201,
      );
    }
    const until = async (ok: (gaps: Array<{ from: number; to: number }>, last: number) => boolean, what: string) => {
      const deadline = Date.now() + 90_000;
      let seen: unknown;
      while (Date.now() < deadline) {
        const r = await sources();
        expect(r.status).toBe(200);
        const s = r.body.sources.find((x) => x.source === source);
        seen = s ?? r.body;
        if (s && ok(s.gaps_open, s.last_sequence)) return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      throw new Error(`${what} not seen within 90 s; last seen ${JSON.stringify(seen).slice(0, 2000)}:\n${suite.cluster.logs(15)}`);
    };
    await until((gaps, last) => last === 4 && gaps.length === 1 && gaps[0].from === 3 && gaps[0].to === 3, 'gap 3');
    // The finding went through the ingest service onto Kafka and into the query store.
    const deadline = Date.now() + 90_000;
    let found = 0;
    while (found === 0 && Date.now() < deadline) {
      const r = await request<{ total: number }>(`${gw()}/audit/events?event_type=logging_gap_detected&metadata.gap_source=${source}`);
      found = r.body.total ?? 0;
      if (found === 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(found).toBe(1);
    expect((await postEvents(gw(), [{ event_type: 'device_registered', source, sequence: 3 }])).status).toBe(201);
    await until((gaps) => gaps.length === 0, 'gap 3 closed');
    const status = await request<{ components: Record<string, { ok: boolean; detail?: { sources: number } }> }>(`${gw()}/audit/status`);
    expect(status.body.components.completeness.ok).toBe(true);
    expect(status.body.components.completeness.detail?.sources).toBeGreaterThanOrEqual(1);
  }, 240_000);
});
