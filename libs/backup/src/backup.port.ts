import { definePort, serviceAddress } from '@app/runtime';
import { BackupManifest } from './snapshot';

export interface BackupResult {
  /** The new backup directory, under AUDIT_DATA_DIR/backups. */
  path: string;
  manifest: BackupManifest;
}

/** The embedded app's backup: only the all-in-one runs it (the distributed stores have their own tools). */
export interface BackupPort {
  backup(): Promise<BackupResult>;
}

export const BACKUP_PORT_DEFINITION = definePort<BackupPort>({
  name: 'backup',
  service: 'backup',
  address: serviceAddress('BACKUP', 4010),
  methods: {
    backup: { pattern: 'audit.backup.run', deadline: 'queryMs', encode: () => ({}), decode: () => [] },
  },
});

export const BACKUP_PORT = BACKUP_PORT_DEFINITION.token;
