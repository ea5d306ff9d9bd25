import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IdempotencyRepository, INGEST_MIGRATIONS } from '@app/ingest';
import { createDataSource } from '@app/persistence';
import { TEST_DATABASE_URL } from './support/environment';

describe(`${IdempotencyRepository.name} on Postgres`, () => {
  // The database is shared with other suites: this one only looks at its own tenant's rows.
  const tenant = `expiry-${randomUUID().slice(0, 8)}`;
  let ds: DataSource;
  let sut: IdempotencyRepository;

  beforeAll(async () => {
    ds = await createDataSource({ target: { kind: 'pg', url: TEST_DATABASE_URL }, entities: [], migrations: INGEST_MIGRATIONS });
    sut = new IdempotencyRepository(ds, 24);
  });

  afterAll(async () => {
    await ds.query('DELETE FROM idempotency_keys WHERE tenant_id = $1', [tenant]);
    await ds.destroy();
  });

  it('should delete the keys older than the window and keep the fresh ones', async () => {
    // given one key 25 hours old and one fresh
    await sut.save(tenant, [
      { key: 'old', requestHash: 'h1', eventId: randomUUID() },
      { key: 'new', requestHash: 'h2', eventId: randomUUID() },
    ]);
    await ds.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE tenant_id = $1 AND key = 'old'`, [tenant]);
    // when counting them (POST /audit/optimize's dry run), then the old one is counted and nothing goes
    const counted = await sut.countExpired();
    expect(counted).toBeGreaterThanOrEqual(1);
    expect(await ds.query('SELECT key FROM idempotency_keys WHERE tenant_id = $1', [tenant])).toHaveLength(2);
    // when expiring
    const deleted = await sut.expire();
    // then the old row is gone, the fresh one still answers. (The database is shared and kept between runs: a
    // key another suite wrote a day ago may cross the window between two statements, so the counts are bounds.)
    expect(deleted).toBeGreaterThanOrEqual(1);
    const left: Array<{ key: string }> = await ds.query('SELECT key FROM idempotency_keys WHERE tenant_id = $1 ORDER BY key', [tenant]);
    expect(left.map((r) => r.key)).toEqual(['new']);
    expect([...(await sut.find(tenant, ['old', 'new'])).keys()]).toEqual(['new']);
  });
});
