import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { assertNodeMajor } from '../../support/node-version';

/** The e2e and integration tiers run the built apps as real processes: build them once per run. */
export default function globalSetup(): void {
  assertNodeMajor();
  execFileSync('npm', ['run', 'build'], { cwd: path.join(__dirname, '../../..'), stdio: 'inherit' });
}
