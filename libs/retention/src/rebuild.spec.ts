import { ArchiveManifest, ArchiveRepository } from './archive.repository';
import { archivesToRestore, RebuildError } from './rebuild';

const manifest = (id: string, recipients: string[]): ArchiveManifest => ({
  id,
  tenant_id: 'acme',
  category: 'payments',
  day: '2025-06-01',
  object_key: `archives/acme/payments/${id}.jsonl.gz`,
  event_count: 1,
  first_id: null,
  last_id: null,
  first_timestamp: null,
  last_timestamp: null,
  plaintext_sha256: '',
  object_sha256: '',
  object_size: 0,
  compression: 'gzip',
  recipients,
  policy: {},
  integrity: null,
  created_at: '2026-12-01T00:00:00.000Z',
  restored_until: null,
});

const repoOf = (all: ArchiveManifest[]): ArchiveRepository => ({ listAll: async () => all }) as unknown as ArchiveRepository;

describe(archivesToRestore.name, () => {
  it('should refuse encrypted archives without an identity, naming the variable and the count', async () => {
    const repo = repoOf([manifest('a', ['age1x']), manifest('b', [])]);
    const refused = archivesToRestore(repo, undefined);
    await expect(refused).rejects.toBeInstanceOf(RebuildError);
    await expect(archivesToRestore(repo, undefined)).rejects.toThrow(
      '1 of the 2 archives are encrypted and AUDIT_ARCHIVE_IDENTITY is not set',
    );
  });

  it('should answer every archive when an identity is given, or when none is encrypted', async () => {
    const encrypted = repoOf([manifest('a', ['age1x']), manifest('b', [])]);
    await expect(archivesToRestore(encrypted, 'AGE-SECRET-KEY-1X')).resolves.toHaveLength(2);
    await expect(archivesToRestore(repoOf([manifest('b', [])]), undefined)).resolves.toHaveLength(1);
  });
});
