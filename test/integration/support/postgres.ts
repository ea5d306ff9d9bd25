import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AuditEvent } from '@app/contracts';
import { createDataSource, PersistenceOptions } from '@app/persistence';
import { TEST_DATABASE_URL } from './environment';

/** A database of its own on the test Postgres, migrated; `drop()` closes it and drops it (WITH FORCE). */
export async function scratchDatabase(
  prefix: string,
  options: Pick<PersistenceOptions, 'entities' | 'migrations'>,
): Promise<{ ds: DataSource; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const ds = await createDataSource({ target: { kind: 'pg', url: TEST_DATABASE_URL.replace(/\/[^/]*$/, `/${name}`) }, ...options });
  return {
    ds,
    name,
    async drop() {
      await ds.destroy();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** A valid stored event with every optional field empty: tests name what they need (`id`, `tenant_id`, ...). */
export const auditEvent = (fields: Pick<AuditEvent, 'id' | 'tenant_id'> & Partial<AuditEvent>): AuditEvent => ({
  schema_version: 1,
  event_type: 'user_login',
  category: 'user_actions',
  severity: 'info',
  description: '',
  metadata: {},
  timestamp: '2026-01-01T00:00:00.000000Z',
  received_at: '2026-01-01T00:00:00.000000Z',
  ip_address: '',
  user_agent: '',
  session_id: '',
  source: '',
  idempotency_key: '',
  ...fields,
});
