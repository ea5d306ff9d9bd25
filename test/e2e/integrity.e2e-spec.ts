import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AuditEvent } from '@app/contracts';
import { leafHashOf, openCheckpoint, parseVerifierKey, verifyConsistency, verifyInclusion } from '@app/integrity';
import { createClickHouse, releaseChdb } from '@app/query';
import { bootApp, eventually, http, Json, ROOT, TestApp, waitForTotal } from './support/embedded-app';

const b64 = (s: string) => Buffer.from(s, 'base64');
const ENV = { AUDIT_SELF_AUDIT_READS: 'false' };

async function checkpointCovering(app: TestApp, id: string): Promise<{ proof: Json['body']; checkpoint: Json['body'] }> {
  // The integrity consumer appends asynchronously: sign until the event is inside a checkpoint.
  return eventually(
    async () => {
      const c = await http(`${app.url}/audit/integrity/checkpoint`, { method: 'POST' });
      expect(c.status).toBe(201);
      const p = await http(`${app.url}/audit/events/${id}/proof`);
      return p.status === 200 ? { proof: p.body, checkpoint: c.body } : undefined;
    },
    20_000,
    `a checkpoint covering ${id}`,
  );
}

async function tamper(app: TestApp, statements: string[]): Promise<void> {
  const ch = await createClickHouse({ kind: 'chdb', path: path.join(app.dataDir, 'clickhouse') });
  try {
    for (const query of statements) await ch.command({ query, clickhouse_settings: { mutations_sync: '2' } });
  } finally {
    await ch.close();
    await releaseChdb();
  }
}

describe('integrity (embedded app)', () => {
  let app: TestApp;
  afterEach(async () => app?.close());

  it('should sign C2SP checkpoints whose inclusion and consistency proofs verify offline', async () => {
    app = await bootApp(ENV);
    const run = randomUUID();
    const posted = await http(`${app.url}/audit/events`, {
      method: 'POST',
      json: Array.from({ length: 5 }, (_, i) => ({ event_type: 'user_login', metadata: { run, i } })),
    });
    expect(posted.status).toBe(201);
    const ids: string[] = posted.body.results.map((r: { id: string }) => r.id);
    await waitForTotal(app.url, `metadata.run=${run}`, 5);

    const key = await http(`${app.url}/audit/integrity/public-key`);
    expect(key.status).toBe(200);
    const verifier = parseVerifierKey(key.body.verifier_key);

    const first = await checkpointCovering(app, ids[2]);
    // The signed note opens with the published key and states what the proof is against.
    const cp1 = openCheckpoint(first.proof.checkpoint.note, [verifier], 'homepot-audit/default');
    expect(cp1.size).toBe(first.proof.tree_size);
    expect(cp1.rootHash.toString('base64')).toBe(first.proof.root_hash);
    // The leaf is recomputed from the event as the API returns it: the store and the tree agree.
    const event = (await http(`${app.url}/audit/events/${ids[2]}`)).body as AuditEvent;
    expect(leafHashOf(event).toString('base64')).toBe(first.proof.leaf_hash);
    expect(verifyInclusion(first.proof.leaf_index, cp1.size, leafHashOf(event), first.proof.proof.map(b64), cp1.rootHash)).toBe(true);
    expect(
      verifyInclusion(
        first.proof.leaf_index,
        cp1.size,
        leafHashOf({ ...event, description: 'x' }),
        first.proof.proof.map(b64),
        cp1.rootHash,
      ),
    ).toBe(false);

    const more = await http(`${app.url}/audit/events`, { method: 'POST', json: { event_type: 'user_logout', metadata: { run } } });
    expect(more.status).toBe(201);
    const second = await checkpointCovering(app, more.body.id);
    const cp2 = openCheckpoint(second.proof.checkpoint.note, [verifier]);
    expect(cp2.size).toBeGreaterThan(cp1.size);
    const consistency = await http(`${app.url}/audit/integrity/consistency?from=${cp1.size}&to=${cp2.size}`);
    expect(consistency.status).toBe(200);
    expect(verifyConsistency(cp1.size, cp2.size, consistency.body.proof.map(b64), cp1.rootHash, cp2.rootHash)).toBe(true);
    expect(consistency.body.from_checkpoint.note).toBe(first.proof.checkpoint.note);

    // Each checkpoint is an audit event too.
    const logged = await eventually(async () => {
      const r = await http(`${app.url}/audit/events?event_type=integrity_checkpoint&limit=100`);
      return r.body.events.some((e: AuditEvent) => e.metadata.tree_size === cp2.size) ? r : undefined;
    });
    expect(logged.status).toBe(200);

    // The offline verifier: the export with its proofs, the checkpoint and the key, no service.
    const dir = mkdtempSync(path.join(tmpdir(), 'verify-'));
    const lines: string[] = [];
    for (const id of ids) {
      const e = (await http(`${app.url}/audit/events/${id}`)).body;
      const p = (await http(`${app.url}/audit/events/${id}/proof`)).body;
      lines.push(JSON.stringify({ event: e, proof: p }));
    }
    writeFileSync(path.join(dir, 'export.ndjson'), lines.join('\n') + '\n');
    writeFileSync(path.join(dir, 'checkpoint.txt'), second.proof.checkpoint.note);
    writeFileSync(path.join(dir, 'key.txt'), key.body.verifier_key);
    const cli = (file: string) =>
      execFileSync(
        process.execPath,
        [
          path.join(ROOT, 'dist/apps/integrity/src/verify-cli.js'),
          '--key',
          path.join(dir, 'key.txt'),
          '--checkpoint',
          path.join(dir, 'checkpoint.txt'),
          file,
        ],
        { encoding: 'utf8' },
      );
    const offline = JSON.parse(cli(path.join(dir, 'export.ndjson')));
    expect(offline).toMatchObject({ ok: true, events: 5, findings: [] });
    writeFileSync(
      path.join(dir, 'edited.ndjson'),
      lines.map((l, i) => (i === 3 ? l.replace('User logged in', 'User logged out') : l)).join('\n'),
    );
    let failed: { status: number; stdout: string } | undefined;
    try {
      cli(path.join(dir, 'edited.ndjson'));
    } catch (e) {
      failed = e as { status: number; stdout: string };
    }
    expect(failed?.status).toBe(1);
    expect(JSON.parse(failed!.stdout).findings).toEqual([{ line: 4, id: ids[3], status: 'modified', leaf_index: expect.any(Number) }]);

    const bad = await http(`${app.url}/audit/integrity/consistency?from=abc&to=1`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('from');
    const unknownParam = await http(`${app.url}/audit/integrity/consistency?from=1&to=3&x=1`);
    expect([unknownParam.status, unknownParam.body.error.code, unknownParam.body.error.details[0].field]).toEqual([
      400,
      'invalid_query',
      'x',
    ]);
    const inverted = await http(`${app.url}/audit/integrity/verify`, { method: 'POST', json: { from: '2026-12-04', to: '2026-12-01' } });
    expect([inverted.status, inverted.body.error.details[0].field]).toEqual([400, '/to']);
  });

  it('should name each event modified, removed, inserted or reordered in the store, and log the mismatch', async () => {
    app = await bootApp(ENV);
    const run = randomUUID();
    const posted = await http(`${app.url}/audit/events`, {
      method: 'POST',
      // The last two carry a source's sequence: their leaves are v2, which covers the sequence too.
      json: Array.from({ length: 8 }, (_, i) => ({
        event_type: 'user_login',
        metadata: { run, i },
        ...(i >= 6 && { source: `pos-${run.slice(0, 8)}`, sequence: i }),
      })),
    });
    expect(posted.status).toBe(201);
    const ids: string[] = posted.body.results.map((r: { id: string }) => r.id);
    await waitForTotal(app.url, `metadata.run=${run}`, 8);
    await checkpointCovering(app, ids[7]);
    const encodings = await Promise.all([ids[0], ids[7]].map((id) => http(`${app!.url}/audit/events/${id}/proof`)));
    expect(encodings.map((r) => r.body.leaf_encoding)).toEqual(['v1', 'v2']);
    const clean = await http(`${app.url}/audit/integrity/verify`, { method: 'POST', json: {} });
    expect(clean.status).toBe(200);
    expect(clean.body).toMatchObject({ ok: true, modified: [], removed: [], inserted: [], reordered: [], checkpoint_root_matches: true });

    await app.close({ keepData: true });
    // The shutdown drained an ending checkpoint.
    const inserted = randomUUID();
    const cols =
      'tenant_id, schema_version, event_type, category, severity, description, metadata, metadata_json, timestamp, received_at, ' +
      'ip_address, user_agent, session_id, source, idempotency_key, log_partition, log_offset';
    await tamper(app, [
      `ALTER TABLE audit.events UPDATE description = 'nothing happened' WHERE id = '${ids[0]}'`,
      `ALTER TABLE audit.events DELETE WHERE id = '${ids[1]}'`,
      `ALTER TABLE audit.events UPDATE sequence = 999 WHERE id = '${ids[6]}'`,
      `INSERT INTO audit.events (id, ${cols}) SELECT '${inserted}', ${cols} FROM audit.events WHERE id = '${ids[2]}'`,
      `ALTER TABLE audit.events UPDATE log_offset = if(id = '${ids[3]}',
         (SELECT log_offset FROM audit.events WHERE id = '${ids[4]}'), (SELECT log_offset FROM audit.events WHERE id = '${ids[3]}'))
       WHERE id IN ('${ids[3]}', '${ids[4]}')`,
    ]);
    app = await bootApp(ENV, app.dataDir);
    const latest = await http(`${app.url}/audit/integrity/checkpoint`);
    expect(latest.body.reason).toBe('shutdown');

    const report = await http(`${app.url}/audit/integrity/verify`, { method: 'POST', json: {} });
    expect(report.status).toBe(200);
    expect(report.body.ok).toBe(false);
    expect(report.body.modified.map((f: { id: string }) => f.id).sort()).toEqual([ids[0], ids[6]].sort());
    expect(report.body.removed.map((f: { id: string }) => f.id)).toEqual([ids[1]]);
    expect(report.body.inserted.map((f: { id: string }) => f.id)).toEqual([inserted]);
    expect(report.body.reordered.map((f: { id: string }) => f.id).sort()).toEqual([ids[3], ids[4]].sort());
    // The stored tree itself is intact: it still hashes to the signed root.
    expect(report.body.checkpoint_root_matches).toBe(true);

    const alert = await eventually(async () => {
      const r = await http(`${app.url}/audit/events?event_type=integrity_mismatch`);
      return r.body.total > 0 ? r.body.events[0] : undefined;
    });
    expect(alert.severity).toBe('critical');
    expect(alert.metadata).toMatchObject({ modified: 2, removed: 1, inserted: 1, reordered: 2 });
  });
});
