import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** The e2e and integration tiers run the built apps as real processes: build them once per run. */
export default function globalSetup(): void {
  execFileSync('npm', ['run', 'build'], { cwd: path.join(__dirname, '../../..'), stdio: 'inherit' });
}
