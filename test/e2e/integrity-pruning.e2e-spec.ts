import * as path from 'node:path';
import { AuditEvent } from '@app/contracts';
import { leafHashOf, openCheckpoint, parseVerifierKey, verifyConsistency, verifyInclusion } from '@app/integrity';
import { createClickHouse, releaseChdb } from '@app/query';
import { bootApp, eventually, http, Json, TestApp, waitForTotal } from './support/embedded-app';
import { finishedJob } from './support/retention-jobs';

const b64 = (s: string) => Buffer.from(s, 'base64');
const NOW = '2026-12-02T12:00:00Z';
const ENV = { AUDIT_SELF_AUDIT_READS: 'false', AUDIT_RETENTION_NOW: NOW, AUDIT_RETENTION_CHANGE_DELAY_HOURS: '0' };

/** Signs until the event is inside a checkpoint (the tree's consumer appends asynchronously); answers its proof. */
async function proofOf(app: TestApp, id: string): Promise<Json['body']> {
  return eventually(
    async () => {
      expect((await http(`${app.url}/audit/integrity/checkpoint`, { method: 'POST' })).status).toBe(201);
      const p = await http(`${app.url}/audit/events/${id}/proof`);
      return p.status === 200 ? p.body : undefined;
    },
    20_000,
    `a checkpoint covering ${id}`,
  );
}

async function deleteFromStore(app: TestApp, id: string): Promise<void> {
  const ch = await createClickHouse({ kind: 'chdb', path: path.join(app.dataDir, 'clickhouse') });
  try {
    await ch.command({ query: `ALTER TABLE audit.events DELETE WHERE id = '${id}'`, clickhouse_settings: { mutations_sync: '2' } });
  } finally {
    await ch.close();
    await releaseChdb();
  }
}

describe('integrity across retention (embedded app)', () => {
  let app: TestApp;
  afterAll(async () => app?.close());

  it('given retention deleted old days, when verifying, then what the policy deleted is expected and only a deletion it did not make is named', async () => {
    app = await bootApp(ENV);
    const post = (json: unknown) => http(`${app.url}/audit/events`, { method: 'POST', json });
    // Log order: an old day first (a prefix of the tree), then recent events, then another old day (not a prefix).
    const ancient = await post(Array.from({ length: 3 }, (_, i) => ({ event_type: 'user_login', timestamp: `2019-03-10T0${i}:00:00Z` })));
    expect(ancient.status).toBe(201);
    await waitForTotal(app.url, 'event_type=user_login', 3);
    const recent = await post(Array.from({ length: 3 }, (_, i) => ({ event_type: 'user_login', timestamp: `2026-11-30T0${i}:00:00Z` })));
    expect(recent.status).toBe(201);
    await waitForTotal(app.url, 'event_type=user_login', 6);
    const late = await post(Array.from({ length: 2 }, (_, i) => ({ event_type: 'user_login', timestamp: `2025-06-01T0${i}:00:00Z` })));
    expect(late.status).toBe(201);
    await waitForTotal(app.url, 'event_type=user_login', 8);
    const ids = (r: Json) => (r.body.results as Array<{ id: string }>).map((x) => x.id);
    const [oldIds, keptIds, lateIds] = [ids(ancient), ids(recent), ids(late)];

    const verifier = parseVerifierKey((await http(`${app.url}/audit/integrity/public-key`)).body.verifier_key);
    const before = await proofOf(app, lateIds[1]);
    const cp1 = openCheckpoint(before.checkpoint.note, [verifier]);
    const leafIndex = new Map<string, number>();
    for (const id of [...oldIds, ...keptIds, ...lateIds])
      leafIndex.set(id, (await http(`${app.url}/audit/events/${id}/proof`)).body.leaf_index);
    const oldEvent = (await http(`${app.url}/audit/events/${oldIds[0]}`)).body as AuditEvent;
    const clean = await http(`${app.url}/audit/integrity/verify`, { method: 'POST', json: {} });
    expect(clean.body).toMatchObject({ ok: true, removed: [], pruned: 0 });

    // 365 days from 2026-12-02: 2019-03-10 and 2025-06-01 are past it, 2026-11-30 is not.
    expect((await http(`${app.url}/audit/retention`, { method: 'POST', json: { retention_days: 365 } })).status).toBe(201);
    const run = (await finishedJob(app, '/audit/retention/run')).result;
    expect(run.deleted).toMatchObject({ events: 5, days: 2 });
    await waitForTotal(app.url, 'event_type=user_login', 3);

    const after = await http(`${app.url}/audit/integrity/verify`, { method: 'POST', json: {} });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ ok: true, modified: [], removed: [], inserted: [], reordered: [], pruned: 5 });
    expect(after.body.checkpoint_root_matches).toBe(true);
    // Leaf 0 is the service's system_startup event, still online: nothing here is a prefix, so the minimum
    // index stays (test/integration/integrity-pruning.int-spec.ts raises it).
    expect(after.body.min_index).toBe(0);

    // A remaining event's proof verifies against a checkpoint signed after the prune, which is consistent
    // with the one signed before it; a deleted event's leaf is kept, so a copy of it (an archive) still proves.
    const kept = await proofOf(app, (await post({ event_type: 'user_logout' })).body.id);
    const cp2 = openCheckpoint(kept.checkpoint.note, [verifier]);
    expect(cp2.size).toBeGreaterThan(cp1.size);
    const keptProof = (await http(`${app.url}/audit/events/${keptIds[1]}/proof`)).body;
    const keptEvent = (await http(`${app.url}/audit/events/${keptIds[1]}`)).body as AuditEvent;
    expect(keptProof.tree_size).toBe(cp2.size);
    expect(verifyInclusion(keptProof.leaf_index, cp2.size, leafHashOf(keptEvent), keptProof.proof.map(b64), cp2.rootHash)).toBe(true);
    const consistency = await http(`${app.url}/audit/integrity/consistency?from=${cp1.size}&to=${cp2.size}`);
    expect(consistency.status).toBe(200);
    expect(verifyConsistency(cp1.size, cp2.size, consistency.body.proof.map(b64), cp1.rootHash, cp2.rootHash)).toBe(true);
    const gone = (await http(`${app.url}/audit/events/${oldIds[0]}/proof`)).body;
    expect(verifyInclusion(gone.leaf_index, cp2.size, leafHashOf(oldEvent), gone.proof.map(b64), cp2.rootHash)).toBe(true);

    // A row deleted from the store with no policy behind it is still named.
    await app.close({ keepData: true });
    await deleteFromStore(app, keptIds[1]);
    app = await bootApp(ENV, app.dataDir);
    const tampered = await http(`${app.url}/audit/integrity/verify`, { method: 'POST', json: {} });
    expect(tampered.body.ok).toBe(false);
    expect(tampered.body.removed).toEqual([{ id: keptIds[1], leaf_index: leafIndex.get(keptIds[1]) }]);
    expect(tampered.body.pruned).toBe(5);
    expect(tampered.body).toMatchObject({ modified: [], inserted: [], reordered: [], checkpoint_root_matches: true });
  });
});
