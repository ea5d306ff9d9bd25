import { DataSource } from 'typeorm';
import type { ArchiveLeavesView } from '@app/integrity';

/** An archive's manifest: what the object holds, and the hashes that check it. */
export interface ArchiveManifest {
  id: string;
  tenant_id: string;
  category: string;
  /** The UTC day the archive holds (YYYY-MM-DD). */
  day: string;
  object_key: string;
  event_count: number;
  first_id: string | null;
  last_id: string | null;
  first_timestamp: string | null;
  last_timestamp: string | null;
  /** SHA-256 of the JSON Lines before compression and encryption. */
  plaintext_sha256: string;
  /** SHA-256 of the stored object (what the object store holds, as read back). */
  object_sha256: string;
  object_size: number;
  compression: 'gzip' | 'none';
  /** age recipients it is encrypted to; empty: not encrypted. */
  recipients: string[];
  policy: Record<string, unknown>;
  created_at: string;
  /** Restored into the query store: kept online until then (unless past retention). */
  restored_until: string | null;
  /**
   * The integrity capability's view of the archive's events (their leaves, the tree hash over them in leaf
   * order, the checkpoint covering them); null when that capability does not run or did not answer.
   */
  integrity: ArchiveLeavesView | null;
}

type Row = Record<string, unknown>;
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
const dayText = (v: unknown): string => (v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10));

function manifestOf(r: Row): ArchiveManifest {
  return {
    id: r.id as string,
    tenant_id: r.tenant_id as string,
    category: r.category as string,
    day: dayText(r.day),
    object_key: r.object_key as string,
    event_count: Number(r.event_count),
    first_id: (r.first_id as string | null) ?? null,
    last_id: (r.last_id as string | null) ?? null,
    first_timestamp: (r.first_ts as string | null) ?? null,
    last_timestamp: (r.last_ts as string | null) ?? null,
    plaintext_sha256: r.plaintext_sha256 as string,
    object_sha256: r.object_sha256 as string,
    object_size: Number(r.object_size),
    compression: r.compression as ArchiveManifest['compression'],
    recipients: json(r.recipients),
    policy: json(r.policy),
    created_at: (r.created_at instanceof Date ? r.created_at : new Date(r.created_at as string)).toISOString(),
    restored_until: r.restored_until ? new Date(r.restored_until as string).toISOString() : null,
    integrity: r.integrity ? json<ArchiveLeavesView>(r.integrity) : null,
  };
}

export class ArchiveRepository {
  constructor(private readonly ds: DataSource) {}

  /** Recorded only once the object was read back and checked; a redo of the same day replaces the row. */
  async save(m: ArchiveManifest): Promise<void> {
    await this.ds.query(
      `INSERT INTO retention_archives (id, tenant_id, category, day, object_key, event_count, first_id, last_id, first_ts, last_ts,
         plaintext_sha256, object_sha256, object_size, compression, recipients, policy, created_at, integrity)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
       ON CONFLICT (tenant_id, category, day) DO UPDATE SET id = EXCLUDED.id, object_key = EXCLUDED.object_key,
         event_count = EXCLUDED.event_count, first_id = EXCLUDED.first_id, last_id = EXCLUDED.last_id, first_ts = EXCLUDED.first_ts,
         last_ts = EXCLUDED.last_ts, plaintext_sha256 = EXCLUDED.plaintext_sha256, object_sha256 = EXCLUDED.object_sha256,
         object_size = EXCLUDED.object_size, compression = EXCLUDED.compression, recipients = EXCLUDED.recipients,
         policy = EXCLUDED.policy, created_at = EXCLUDED.created_at, integrity = EXCLUDED.integrity, deleted_at = NULL,
         restored_until = NULL`,
      [
        m.id,
        m.tenant_id,
        m.category,
        m.day,
        m.object_key,
        m.event_count,
        m.first_id,
        m.last_id,
        m.first_timestamp,
        m.last_timestamp,
        m.plaintext_sha256,
        m.object_sha256,
        m.object_size,
        m.compression,
        JSON.stringify(m.recipients),
        JSON.stringify(m.policy),
        m.created_at,
        m.integrity ? JSON.stringify(m.integrity) : null,
      ],
    );
  }

  /** The object is deleted first: a crash in between leaves a manifest whose delete is redone. */
  async markDeleted(id: string, at: Date): Promise<void> {
    await this.ds.query('UPDATE retention_archives SET deleted_at = $2 WHERE id = $1', [id, at]);
  }

  async markRestored(id: string, until: Date): Promise<void> {
    await this.ds.query('UPDATE retention_archives SET restored_until = $2 WHERE id = $1', [id, until]);
  }

  async find(tenantId: string, id: string): Promise<ArchiveManifest | undefined> {
    const rows: Row[] = await this.ds.query('SELECT * FROM retention_archives WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [
      tenantId,
      id,
    ]);
    return rows[0] ? manifestOf(rows[0]) : undefined;
  }

  /** Every tenant's archives not deleted (the rebuild restores them all). */
  async listAll(): Promise<ArchiveManifest[]> {
    const rows: Row[] = await this.ds.query('SELECT * FROM retention_archives WHERE deleted_at IS NULL ORDER BY tenant_id, day, category');
    return rows.map(manifestOf);
  }

  async list(tenantId: string): Promise<ArchiveManifest[]> {
    const rows: Row[] = await this.ds.query(
      'SELECT * FROM retention_archives WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY day, category',
      [tenantId],
    );
    return rows.map(manifestOf);
  }
}
