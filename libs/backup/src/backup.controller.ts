import { Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '@app/api';
import { BACKUP_PORT, BackupPort } from './backup.port';

/** The embedded data directory's online backup (docs/deployment.md "Backup and restore"). */
@ApiTags('operations')
@Controller('audit/backup')
export class BackupController {
  constructor(@Inject(BACKUP_PORT) private readonly backups: BackupPort) {}

  @Post()
  @HttpCode(201)
  @RequireScope('admin')
  @ApiOperation({
    summary:
      'Embedded mode: a consistent backup of AUDIT_DATA_DIR while the service runs (cursors, PGlite dump, frozen chdb parts, log, objects) into AUDIT_DATA_DIR/backups/<name>; `npm run backup` calls it',
  })
  backup(): Promise<unknown> {
    return this.backups.backup();
  }
}
