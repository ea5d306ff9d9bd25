import { MigrationInterface, QueryRunner, DataSource } from 'typeorm';

export class CreateIdempotencyKeys1764460800002 implements MigrationInterface {
  name = 'CreateIdempotencyKeys1764460800002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS idempotency_keys (
      tenant_id text NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      event_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant_id, key)
    )`);
    await q.query('CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE idempotency_keys');
  }
}

export const INGEST_MIGRATIONS = [CreateIdempotencyKeys1764460800002];

export interface IdempotencyRecord {
  key: string;
  requestHash: string;
  eventId: string;
}

/** Idempotency keys seen in the last `ttlHours`; a retry inside that window returns the first result. */
export class IdempotencyRepository {
  constructor(
    private readonly ds: DataSource,
    readonly ttlHours = 24,
  ) {}

  async find(tenantId: string, keys: string[]): Promise<Map<string, IdempotencyRecord>> {
    if (keys.length === 0) return new Map();
    const rows: Array<{ key: string; request_hash: string; event_id: string }> = await this.ds.query(
      `SELECT key, request_hash, event_id FROM idempotency_keys
       WHERE tenant_id = $1 AND key = ANY($2) AND created_at > now() - make_interval(hours => $3)`,
      [tenantId, keys, this.ttlHours],
    );
    return new Map(rows.map((r) => [r.key, { key: r.key, requestHash: r.request_hash, eventId: r.event_id }]));
  }

  async save(tenantId: string, records: IdempotencyRecord[]): Promise<void> {
    if (records.length === 0) return;
    const values: string[] = [];
    const params: unknown[] = [tenantId];
    for (const r of records) {
      values.push(`($1, $${params.length + 1}, $${params.length + 2}, $${params.length + 3})`);
      params.push(r.key, r.requestHash, r.eventId);
    }
    await this.ds.query(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, event_id) VALUES ${values.join(', ')}
       ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, event_id = EXCLUDED.event_id, created_at = now()
       WHERE idempotency_keys.created_at <= now() - make_interval(hours => ${Math.floor(this.ttlHours)})`,
      params,
    );
  }

  /** Keys past their window that `expire` would delete (GET /audit/optimize's dry run). */
  async countExpired(): Promise<number> {
    const rows: Array<{ n: string | number }> = await this.ds.query(
      `SELECT count(*) AS n FROM idempotency_keys WHERE created_at <= now() - make_interval(hours => $1)`,
      [this.ttlHours],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async expire(): Promise<number> {
    const res: [unknown, number] = await this.ds.query(
      `DELETE FROM idempotency_keys WHERE created_at <= now() - make_interval(hours => $1)`,
      [this.ttlHours],
    );
    return Array.isArray(res) ? Number(res[1] ?? 0) : 0;
  }
}
