import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

/**
 * A secret the embedded mode keeps beside its data when the deployment gives none: read from `dir/file` (the
 * text, trimmed), else made by `generate`, written once with mode 0600 (a concurrent writer's file wins) and
 * read back. The integrity signing key's passphrase and the secrets key of the integrations use it.
 */
export async function dataDirSecret(dir: string, file: string, generate: () => string): Promise<string> {
  const target = path.join(dir, file);
  try {
    return (await readFile(target, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dir, { recursive: true });
  await writeFile(target, generate() + '\n', { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  await chmod(target, 0o600);
  return (await readFile(target, 'utf8')).trim();
}
