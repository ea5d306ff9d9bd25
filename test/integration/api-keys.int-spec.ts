import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ApiKeyEntity, ApiKeyService, AUTH_MIGRATIONS, CreateApiKeys1764460800001 } from '@app/auth';
import { TEST_DATABASE_URL } from './support/environment';

const NEW_KEY = 'rotated-bootstrap-key-0123456789abcdef';

/**
 * The key store's migrations and bootstrap rotation on the real Postgres server, each test in a schema of
 * its own: the upgrade of a database made before the bootstrap column, and replicas starting together.
 */
describe('API key store on Postgres', () => {
  const schema = `auth_it_${process.pid}_${Date.now()}`;
  const opened: DataSource[] = [];
  let admin: Client;

  const open = async (migrations: Array<new () => unknown> = AUTH_MIGRATIONS): Promise<DataSource> => {
    const ds = new DataSource({
      type: 'postgres',
      url: TEST_DATABASE_URL,
      schema,
      entities: [ApiKeyEntity],
      migrations,
      migrationsTableName: 'audit_migrations',
      synchronize: false,
      logging: false,
      extra: { options: `-c search_path=${schema}` },
    });
    await ds.initialize();
    opened.push(ds);
    await ds.runMigrations({ transaction: 'each' });
    return ds;
  };

  beforeEach(async () => {
    admin = new Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
  });

  afterEach(async () => {
    for (const ds of opened.splice(0)) if (ds.isInitialized) await ds.destroy();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  });

  it('should mark the bootstrap key of a database made before the bootstrap column, so that a rotation revokes only it', async () => {
    // given a database at the first migration with a bootstrap key made the old way and a producer's key
    const v1 = await open([CreateApiKeys1764460800001]);
    await v1.query(
      `INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, tenant_id, created_at) VALUES
       ('0190a000-0000-7000-8000-000000000001', 'bootstrap-admin', 'aaaaaaaaaaaa', 'x', ARRAY['admin'], 'default', now() - interval '1 day'),
       ('0190a000-0000-7000-8000-000000000002', 'producer', 'bbbbbbbbbbbb', 'y', ARRAY['events:write'], 'default', now() - interval '1 day')`,
    );
    await v1.destroy();
    // when the upgraded app starts with a new bootstrap key
    const ds = await open();
    const outcome = await new ApiKeyService(ds).ensureBootstrapKey(NEW_KEY, 'default');
    // then exactly the old bootstrap key is revoked
    expect(outcome).toMatchObject({ created: true, revoked: [{ id: '0190a000-0000-7000-8000-000000000001', tenantId: 'default' }] });
    const rows = await ds.query(`SELECT name, bootstrap, revoked_at IS NOT NULL AS revoked FROM api_keys ORDER BY created_at, id`);
    expect(rows).toEqual([
      { name: 'bootstrap-admin', bootstrap: true, revoked: true },
      { name: 'producer', bootstrap: false, revoked: false },
      { name: 'bootstrap-admin', bootstrap: true, revoked: false },
    ]);
  });

  it('should let replicas that start together with a new key agree on one key', async () => {
    // Migrations run one replica at a time in the apps (an advisory lock in createDataSource); the key step after them does not.
    const replicas = [await open(), await open(), await open()];
    const outcomes = await Promise.all(replicas.map((ds) => new ApiKeyService(ds).ensureBootstrapKey(NEW_KEY, 'default')));
    expect(outcomes.filter((o) => o.created)).toHaveLength(1);
    expect(new Set(outcomes.map((o) => o.keyId)).size).toBe(1);
    expect(await new ApiKeyService(replicas[0]).verify(NEW_KEY)).toMatchObject({ scopes: ['admin', 'operator'] });
  });
});
