import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The product version from the repository's package.json, found from here whether running from src or dist. */
export const VERSION: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'homepot-audit' && pkg.version) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
})();
