import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from 'pg';
import { BatchResult, newRunId, postEvents, request, SearchPage, storedIds, storedTotal } from './support/audit-api';
import { useClusterSuite } from './support/cluster-suite';
import { S3PROXY_CREDENTIALS, S3PROXY_ENDPOINT, TEST_DATABASE_URL } from './support/environment';

const NOW = '2026-12-02T12:00:00Z';
const run = promisify(execFile);

/** age-encryption is an ES module jest cannot load: it runs in a child node (stdin and stdout in base64). */
async function ageInNode(script: string, input = ''): Promise<string> {
  const child = run(process.execPath, ['--input-type=module', '-e', `import * as age from 'age-encryption';\n${script}`], {
    env: { ...process.env, AGE_INPUT: input },
    maxBuffer: 64 * 1024 * 1024,
  });
  return (await child).stdout.trim();
}

interface Manifest {
  id: string;
  integrity: unknown;
  category: string;
  day: string;
  event_count: number;
  object_key: string;
  object_sha256: string;
  plaintext_sha256: string;
  compression: string;
  recipients: string[];
  first_id: string;
  last_id: string;
}

/** Polls the run's stored total until it is exactly `expected` (it goes down as well as up here). */
async function totalBecomes(gateway: string, runId: string, expected: number, timeoutMs = 60_000): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  let total: number | undefined;
  while (Date.now() < deadline) {
    total = await storedTotal(gateway, runId);
    if (total === expected) return total;
    await new Promise((r) => setTimeout(r, 500));
  }
  return total;
}

describe('retention in the distributed deployment: its own app behind the gateway, archives in S3 (s3proxy)', () => {
  const runId = newRunId('retention');
  // Its own tenant: the topic, the query store and the Postgres tables are shared with other suites' runs.
  const tenant = runId.replace(/[^a-z0-9-]/g, '-');
  const bucket = `audit-retention-${randomBytes(4).toString('hex')}`;
  const keys: { identity: string; recipient: string } = { identity: '', recipient: '' };
  const retentionEnv: Record<string, string> = {
    AUDIT_RETENTION_NOW: NOW,
    AUDIT_RETENTION_CHANGE_DELAY_HOURS: '0',
    AUDIT_S3_BUCKET: bucket,
    AUDIT_S3_ENDPOINT: S3PROXY_ENDPOINT,
    AUDIT_S3_PREFIX: 'audit',
    AUDIT_S3_ACCESS_KEY_ID: S3PROXY_CREDENTIALS.accessKeyId,
    AUDIT_S3_SECRET_ACCESS_KEY: S3PROXY_CREDENTIALS.secretAccessKey,
  };
  const s3 = new S3Client({
    endpoint: S3PROXY_ENDPOINT,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3PROXY_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  beforeAll(async () => {
    keys.identity = await ageInNode('process.stdout.write(await age.generateIdentity());');
    keys.recipient = await ageInNode(`process.stdout.write(await age.identityToRecipient(${JSON.stringify(keys.identity)}));`);
    // Filled in before the cluster starts (useClusterSuite's beforeAll runs after this one).
    retentionEnv.AUDIT_ARCHIVE_RECIPIENTS = keys.recipient;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  // With the integrity service: a run records what it removes there (over TCP) before removing it.
  const suite = useClusterSuite({ name: 'retention', retentionEnv, integrity: true, gatewayEnv: { AUDIT_DEFAULT_TENANT: tenant } });
  afterAll(() => s3.destroy());
  const gw = (): string => suite.cluster.gatewayUrl(0);
  const post = <T>(p: string, json: unknown) =>
    request<T>(`${gw()}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) });

  it('should set a policy, archive to S3 encrypted, remove the hot copies, and restore them once, all through the gateway', async () => {
    const bad = await post<{ error: { details: Array<{ field: string }> } }>('/audit/retention', {
      retention_days: 30,
      archive_after_days: 60,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d) => d.field)).toEqual(['/archive_after_days']);

    const posted = await postEvents<BatchResult>(gw(), [
      ...Array.from({ length: 3 }, (_, i) => ({
        event_type: 'user_login',
        timestamp: `2025-06-01T0${i}:00:00Z`,
        metadata: { run_id: runId, seq: i },
      })),
      { event_type: 'user_login', timestamp: '2026-11-30T08:00:00Z', metadata: { run_id: runId, seq: 3 } },
    ]);
    expect(posted.status).toBe(201);
    const ids = posted.body.results.slice(0, 3).map((r) => r.id as string);
    expect(await totalBecomes(gw(), runId, 4)).toBe(4);

    const set = await post<{ status: string; dry_run: { archive: unknown } }>('/audit/retention', {
      retention_days: 2555,
      archive_after_days: 365,
      compress_archives: true,
      encryption_required: true,
    });
    expect([set.status, set.body.status]).toEqual([201, 'applied']);
    expect(set.body.dry_run.archive).toEqual({ events: 3, days: 1, from: '2025-06-01', to: '2025-06-01' });
    const state = await request<{ now: string; state: Record<string, unknown> }>(`${gw()}/audit/retention`);
    expect(state.body.now).toBe('2026-12-02T12:00:00.000Z');
    expect(state.body.state).toMatchObject({ events_due_for_archive: 3, oldest_online_day: '2025-06-01' });

    // Runs and restores are jobs: 202 with a status_url, followed until done (the gateway passes both through).
    interface Job {
      state: string;
      status_url: string;
      error: string | null;
      result: Record<string, unknown>;
    }
    const finished = async (p: string, body: unknown): Promise<Job> => {
      const queued = await post<Job>(p, body);
      expect(queued.status).toBe(202);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const j = await request<Job>(`${gw()}${queued.body.status_url}`);
        if (j.body.state === 'succeeded' || j.body.state === 'failed' || Date.now() > deadline) {
          expect(j.body).toMatchObject({ state: 'succeeded', error: null });
          return j.body;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const run = { body: (await finished('/audit/retention/run', {})).result };
    expect(run.body.archive_blocked).toBeNull();
    expect(run.body.archived).toEqual([{ id: expect.any(String), category: 'user_actions', day: '2025-06-01', events: 3 }]);
    expect(run.body.offloaded).toEqual({ events: 3, days: 1, from: '2025-06-01', to: '2025-06-01' });
    expect(await totalBecomes(gw(), runId, 1)).toBe(1);
    // Recorded with the integrity service first: by id, or folded into the minimum index once the tree has them.
    const pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
    try {
      const byId = await pg.query<{ event_id: string }>('SELECT event_id FROM integrity_pruned WHERE tenant_id = $1', [tenant]);
      const below = await pg.query<{ event_id: string }>(
        `SELECT l.event_id FROM integrity_leaves l JOIN integrity_min_index m ON m.tenant_id = l.tenant_id
         WHERE l.tenant_id = $1 AND l.leaf_index < m.min_index`,
        [tenant],
      );
      expect(new Set([...byId.rows, ...below.rows].map((r) => r.event_id))).toEqual(new Set(ids));
    } finally {
      await pg.end();
    }

    const listed = await request<{ archives: Manifest[] }>(`${gw()}/audit/archives`);
    expect(listed.body.archives).toHaveLength(1);
    const m = listed.body.archives[0];
    expect(m).toMatchObject({ day: '2025-06-01', event_count: 3, compression: 'gzip', recipients: [keys.recipient] });
    expect([m.first_id, m.last_id]).toEqual([ids[0], ids[2]]);
    // The integrity service runs in this cluster: the manifest carries its view of the archive's three events,
    // each one a leaf, or counted missing when the integrity consumer had not reached it yet (it runs at its own
    // pace: on a fresh broker under load it may not have when the run reads the day).
    expect(m.integrity).toMatchObject({ leaf_encoding: 'v1', checkpoint: { tree_size: expect.any(Number) } });
    const view = m.integrity as { leaf_count: number; missing: number };
    expect(view.leaf_count + view.missing).toBe(3);

    // The object is in the bucket under the prefix, encrypted: decrypted here with the identity the service never had.
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `audit/${m.object_key}` }));
    const object = Buffer.from(await got.Body!.transformToByteArray());
    expect(createHash('sha256').update(object).digest('hex')).toBe(m.object_sha256);
    const decrypted = await ageInNode(
      `const d = new age.Decrypter(); d.addIdentity(${JSON.stringify(keys.identity)});
       process.stdout.write(Buffer.from(await d.decrypt(Buffer.from(process.env.AGE_INPUT, 'base64'))).toString('base64'));`,
      object.toString('base64'),
    );
    const plain = gunzipSync(Buffer.from(decrypted, 'base64'));
    expect(createHash('sha256').update(plain).digest('hex')).toBe(m.plaintext_sha256);
    expect(
      plain
        .toString()
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(ids);

    // Restore through the gateway, twice: the events come back once.
    const restored = await finished(`/audit/archives/${m.id}/restore`, { identity: keys.identity });
    expect(restored.result).toMatchObject({ events: 3, submitted: 3 });
    expect(await totalBecomes(gw(), runId, 4)).toBe(4);
    await finished(`/audit/archives/${m.id}/restore`, { identity: keys.identity });
    const restores = await request<SearchPage>(`${gw()}/audit/events?event_type=archive_restored&limit=1`);
    expect(restores.body.total).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 3000));
    const back = await storedIds(gw(), runId);
    expect(back).toHaveLength(4);
    expect(new Set(back)).toEqual(new Set([...ids, posted.body.results[3].id as string]));

    // The gateway's status names the retention service as a component of its own (not required for readiness),
    // with the service's object-store detail passed through.
    const status = await request<{ components: Record<string, { ok: boolean; required?: boolean }> }>(`${gw()}/audit/status`);
    expect(status.body.components.retention).toMatchObject({
      ok: true,
      required: false,
      detail: { config_store: { ok: true }, object_store: { ok: true, kind: 's3' }, last_success: expect.any(String) },
    });
  }, 240_000);
});
