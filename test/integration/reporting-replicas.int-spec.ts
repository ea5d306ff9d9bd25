import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DataSource } from 'typeorm';
import { StoredAuditEvent } from '@app/contracts';
import { IngestPort } from '@app/ingest';
import { QueryPort } from '@app/query';
import { S3ObjectStore } from '@app/storage';
import { REPORTING_MIGRATIONS, ReportingJobEntity, ReportingService } from '@app/reporting';
import { S3PROXY_CREDENTIALS, S3PROXY_ENDPOINT } from './support/environment';
import { scratchDatabase } from './support/postgres';
import { ListQuery, storedEvent } from './support/report-fixtures';

const TENANT = 'replicas';

const event = (i: number): StoredAuditEvent => storedEvent(TENANT, i);

/**
 * Several reporting replicas on one Postgres queue (a database of this spec's own, so no other run's jobs are
 * claimed) and one S3 bucket (s3proxy): each job runs once, in whichever replica claims it, its file readable
 * from any replica; a job whose runner stopped is taken over once its lease runs out.
 */
describe('reporting replicas (Postgres claims, S3 files)', () => {
  const bucket = `reporting-${randomBytes(4).toString('hex')}`;
  let db: Awaited<ReturnType<typeof scratchDatabase>>;
  let ds: DataSource;
  let files: S3ObjectStore;
  const ingest = {
    ingest: () => Promise.resolve({ accepted: 1, duplicates: 0, rejected: 0, results: [{ index: 0, status: 'accepted', id: 'x' }] }),
  } as unknown as IngestPort;
  const logger = { warn: () => undefined, info: () => undefined };
  const replica = (q: ListQuery, leaseSeconds = 30): ReportingService =>
    new ReportingService(
      ds.getRepository(ReportingJobEntity),
      q as unknown as QueryPort,
      ingest,
      files,
      { fileTtlHours: 1, maxConcurrentJobs: 2, pollMs: 100, handoffSeconds: 0, leaseSeconds, pageRows: 1000 },
      logger,
    );
  const row = (id: string): Promise<ReportingJobEntity> => ds.getRepository(ReportingJobEntity).findOneByOrFail({ id });
  const untilDone = async (s: ReportingService, ids: string[], ms = 30_000): Promise<void> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const states = await Promise.all(ids.map(async (id) => (await s.get(TENANT, 'export', id)).state));
      if (states.every((st) => st === 'done')) return;
      if (states.includes('failed') || Date.now() > deadline) throw new Error(`states: ${states.join(',')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const download = async (s: ReportingService, id: string): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for (let offset = 0; ;) {
      const c = await s.read(TENANT, 'export', id, offset, 64 * 1024);
      const data = Buffer.from(c.data, 'base64');
      parts.push(data);
      offset += data.length;
      if (c.eof) return Buffer.concat(parts);
    }
  };

  beforeAll(async () => {
    db = await scratchDatabase('reporting_replicas', { entities: [ReportingJobEntity], migrations: REPORTING_MIGRATIONS });
    ds = db.ds;
    const s3 = new S3Client({ endpoint: S3PROXY_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: S3PROXY_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    files = new S3ObjectStore({ endpoint: S3PROXY_ENDPOINT, region: 'us-east-1', bucket, ...S3PROXY_CREDENTIALS });
  });

  afterAll(async () => {
    files?.close();
    await db?.drop();
  });

  it('given jobs accepted by one replica beyond its room, then both replicas run them, each once, the files readable from either', async () => {
    const events = Array.from({ length: 3000 }, (_, i) => event(i));
    const a = replica(new ListQuery(events, 40));
    const b = replica(new ListQuery(events, 40));
    await a.resume();
    await b.resume();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const job = await a.startExport(
        TENANT,
        { format: 'csv', period: { start: '2025-08-01', end: '2025-08-02' } },
        { keyId: 'k', name: 'n' },
      );
      ids.push(job.id);
    }
    await untilDone(a, ids);
    const rows = await Promise.all(ids.map(row));
    expect(rows.map((r) => r.attempts)).toEqual(ids.map(() => 1));
    expect(new Set(rows.map((r) => r.claimedBy))).toEqual(new Set([a.replicaId, b.replicaId]));
    for (const r of rows) {
      const viaOther = await download(r.claimedBy === a.replicaId ? b : a, r.id);
      expect(createHash('sha256').update(viaOther).digest('hex')).toBe(r.fileSha256);
      expect(viaOther.toString('utf8').trimEnd().split('\r\n')).toHaveLength(3001);
    }
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it('given a job whose runner stopped mid-run, then another replica takes it when the lease runs out and runs it again', async () => {
    const events = Array.from({ length: 50 }, (_, i) => event(i));
    const accepting = replica(new ListQuery(events, 0));
    await accepting.close(); // stopped before it ran anything
    const job = await accepting.startExport(
      TENANT,
      { format: 'json', period: { start: '2025-08-01', end: '2025-08-02' } },
      { keyId: 'k', name: 'n' },
    );
    // As a replica that crashed while running it leaves it: running, claimed, its lease still held for a moment.
    // (Held for an hour, then run out by hand: a lease of a second could run out on a slow machine before the
    // check that it holds.)
    await ds.query(
      `UPDATE reporting_jobs SET state = 'running', claimed_by = 'crashed', attempts = 1, lease_until = now() + interval '1 hour' WHERE id = $1`,
      [job.id],
    );
    const survivor = replica(new ListQuery(events, 0));
    await survivor.resume();
    await new Promise((r) => setTimeout(r, 500));
    expect((await row(job.id)).claimedBy).toBe('crashed');
    await ds.query(`UPDATE reporting_jobs SET lease_until = now() WHERE id = $1`, [job.id]);
    await untilDone(survivor, [job.id], 10_000);
    const done = await row(job.id);
    expect([done.claimedBy, done.attempts]).toEqual([survivor.replicaId, 2]);
    expect(JSON.parse((await download(survivor, job.id)).toString('utf8'))).toHaveLength(50);
    await survivor.close();
  }, 30_000);

  it('given a runner that lost its claim mid-run, then it stops and does not mark the job done', async () => {
    const events = Array.from({ length: 100_000 }, (_, i) => event(i));
    const slow = replica(new ListQuery(events, 100), 1);
    await slow.resume();
    const job = await slow.startExport(
      TENANT,
      { format: 'ndjson', period: { start: '2025-08-01', end: '2025-08-02' } },
      { keyId: 'k', name: 'n' },
    );
    for (let i = 0; i < 100 && (await row(job.id)).state !== 'running'; i++) await new Promise((r) => setTimeout(r, 20));
    await ds.query(`UPDATE reporting_jobs SET claimed_by = 'another', lease_until = now() + interval '1 hour' WHERE id = $1`, [job.id]);
    // Its next heartbeat (a quarter of the 1 s lease) finds the claim gone: the run stops well before its ~10 s.
    const deadline = Date.now() + 5000;
    while ((await slow.health()).detail?.jobs_running !== 0) {
      if (Date.now() > deadline) throw new Error('the run did not stop');
      await new Promise((r) => setTimeout(r, 50));
    }
    await slow.close();
    const after = await row(job.id);
    expect([after.state, after.claimedBy, after.fileKey]).toEqual(['running', 'another', null]);
  }, 30_000);
});
