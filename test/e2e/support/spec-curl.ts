import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const SPEC_PATH = path.join(__dirname, '../../../docs/spec/audit-compliance-guide.txt');

/** Every curl command in the user guide, with `\` continuations joined, in document order. */
export function specCurlCommands(): string[] {
  const lines = readFileSync(SPEC_PATH, 'utf8').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim().startsWith('curl ')) continue;
    let cmd = lines[i].trim();
    while (cmd.endsWith('\\') && i + 1 < lines.length) {
      cmd = `${cmd}\n${lines[++i]}`;
    }
    // A -d '{...}' body spans lines until the closing quote.
    while ((cmd.match(/'/g) ?? []).length % 2 === 1 && i + 1 < lines.length) cmd = `${cmd}\n${lines[++i]}`;
    out.push(cmd);
  }
  return out;
}

export function pathOf(cmd: string): string {
  const m = /https?:\/\/localhost:8000([^\s"']*)/.exec(cmd);
  if (!m) throw new Error(`no URL in ${cmd}`);
  return m[1];
}
