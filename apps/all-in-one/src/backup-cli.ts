import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { restoreSnapshot } from '@app/backup';

const USAGE = `usage:
  npm run backup -- --out <new dir> [--url http://127.0.0.1:8000] [--api-key <admin key>]
  npm run restore -- --from <backup dir> --data-dir <new data dir>`;

function args(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(USAGE);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

/** Asks the running embedded app for a backup (POST /audit/backup), then moves it to --out. */
async function backup(a: Record<string, string>): Promise<void> {
  if (!a.out) throw new Error(USAGE);
  const out = path.resolve(a.out);
  if (existsSync(out)) throw new Error(`${out} exists: a backup goes into a new directory`);
  const url = (a.url ?? 'http://127.0.0.1:8000').replace(/\/$/, '');
  const key = a['api-key'];
  const res = await fetch(`${url}/audit/backup`, { method: 'POST', headers: key ? { 'x-api-key': key } : {} }).catch((e: Error) => {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, ...) is its cause.
    throw new Error(`cannot reach the service at ${url}: ${(e.cause as Error | undefined)?.message ?? e.message}`);
  });
  const body = (await res.json()) as { path?: string; manifest?: unknown; error?: { message: string } };
  if (res.status !== 201 || !body.path) throw new Error(`POST ${url}/audit/backup answered ${res.status}: ${body.error?.message ?? ''}`);
  try {
    renameSync(body.path, out);
  } catch {
    // Another file system: copy, then remove the copy under the data directory.
    cpSync(body.path, out, { recursive: true, verbatimSymlinks: true });
    rmSync(body.path, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ backup: out, manifest: body.manifest })}\n`);
}

async function restore(a: Record<string, string>): Promise<void> {
  if (!a.from || !a['data-dir']) throw new Error(USAGE);
  const manifest = await restoreSnapshot(path.resolve(a.from), path.resolve(a['data-dir']));
  process.stdout.write(`${JSON.stringify({ restored: path.resolve(a['data-dir']), created_at: manifest.created_at })}\n`);
}

const [command, ...rest] = process.argv.slice(2);
Promise.resolve()
  .then(() => (command === 'backup' ? backup : command === 'restore' ? restore : () => Promise.reject(new Error(USAGE)))(args(rest)))
  .catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    // A usage error is 2, as the other commands of the repository answer one; a failed backup or restore 1.
    process.exit(e.message === USAGE ? 2 : 1);
  });
