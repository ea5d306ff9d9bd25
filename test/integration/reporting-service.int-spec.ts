import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { StoredAuditEvent } from '@app/contracts';
import { IngestPort } from '@app/ingest';
import { createDataSource } from '@app/persistence';
import { QueryPort } from '@app/query';
import { DirectoryObjectStore } from '@app/storage';
import { REPORTING_MIGRATIONS, ReportingJobEntity, ReportingService } from '@app/reporting';
import { TEST_DATABASE_URL } from './support/environment';
import { ListQuery, storedEvent } from './support/report-fixtures';

const TENANT = `spec-${process.pid}-${Date.now()}`;

const event = (i: number): StoredAuditEvent => storedEvent(TENANT, i);

/** The job service on real Postgres (the shared test database) and a real directory store; the ports in memory. */
describe(ReportingService.name, () => {
  let dir: string;
  let ds: DataSource;
  let files: DirectoryObjectStore;
  const recorded: unknown[] = [];
  const ingest = {
    ingest: (r: { events: unknown[] }) => {
      recorded.push(...r.events);
      return Promise.resolve({ accepted: 1, duplicates: 0, rejected: 0, results: [{ index: 0, status: 'accepted', id: 'x' }] });
    },
  } as unknown as IngestPort;
  const logger = { warn: () => undefined, info: () => undefined };
  const service = (q: ListQuery): ReportingService =>
    new ReportingService(
      ds.getRepository(ReportingJobEntity),
      q as unknown as QueryPort,
      ingest,
      files,
      { fileTtlHours: 1, maxConcurrentJobs: 1, pageRows: 1000 },
      logger,
    );
  const until = async (s: ReportingService, id: string, state: string): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if ((await s.get(TENANT, 'export', id)).state === state) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`not ${state}`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'reporting-spec-'));
    ds = await createDataSource({
      target: { kind: 'pg', url: TEST_DATABASE_URL },
      entities: [ReportingJobEntity],
      migrations: REPORTING_MIGRATIONS,
    });
    files = new DirectoryObjectStore(path.join(dir, 'files'));
  });

  afterAll(async () => {
    await ds.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('given an export across several pages, then every row once, progress complete, the file hashed', async () => {
    const s = service(new ListQuery(Array.from({ length: 2500 }, (_, i) => event(i))));
    const job = await s.startExport(
      TENANT,
      { format: 'ndjson', period: { start: '2025-08-01', end: '2025-08-02' } },
      { keyId: 'k', name: 'n' },
    );
    await until(s, job.id, 'done');
    const done = await s.get(TENANT, 'export', job.id);
    expect(done.progress).toEqual({ rows_done: 2500, rows_expected: 2500 });
    expect((await files.head(`exports/${TENANT}/${job.id}/${done.file!.name}`))?.sha256).toBe(done.file!.sha256);
    expect(recorded).toContainEqual(expect.objectContaining({ event_type: 'data_exported' }));
    await s.close();
  });

  it('given a finished job past its expiry, then its file and manifest are deleted and it shows expired', async () => {
    const s = service(new ListQuery([event(1)]));
    const job = await s.startExport(
      TENANT,
      { format: 'csv', period: { start: '2025-08-01', end: '2025-08-02' } },
      { keyId: 'k', name: 'n' },
    );
    await until(s, job.id, 'done');
    const done = await s.get(TENANT, 'export', job.id);
    // Other runs' jobs share this Postgres table, so check this job's own state rather than the count.
    await s.expire(new Date(Date.now() + 30 * 60_000));
    expect((await s.get(TENANT, 'export', job.id)).state).toBe('done');
    expect(await s.expire(new Date(Date.parse(done.expires_at!) + 1))).toBeGreaterThanOrEqual(1);
    expect((await s.get(TENANT, 'export', job.id)).state).toBe('expired');
    expect(await files.list(`exports/${TENANT}/${job.id}/`)).toEqual([]);
    await expect(s.read(TENANT, 'export', job.id, 0, 10)).rejects.toMatchObject({ code: 'not_ready' });
    await s.close();
  });

  it('given a job a stopped process left queued, then the next start runs it', async () => {
    const first = service(new ListQuery([event(1), event(2)]));
    await first.close(); // stopped before it ran anything: the job stays queued
    const job = await first.startExport(
      TENANT,
      { format: 'json', period: { start: '2025-08-01', end: '2025-08-02' } },
      { keyId: 'k', name: 'n' },
    );
    expect((await first.get(TENANT, 'export', job.id)).state).toBe('queued');
    const second = service(new ListQuery([event(1), event(2)]));
    await second.resume();
    await until(second, job.id, 'done');
    const chunk = await second.read(TENANT, 'export', job.id, 0, 1 << 20);
    expect(JSON.parse(Buffer.from(chunk.data, 'base64').toString('utf8'))).toHaveLength(2);
    expect(chunk.eof).toBe(true);
    await second.close();
  });
});
