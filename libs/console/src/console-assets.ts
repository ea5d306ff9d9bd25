import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** One file the console serves, read once at start-up: no path from a request ever reaches the disk. */
export interface ConsoleFile {
  body: Buffer;
  contentType: string;
  /** Vendored files live under a versioned path, so a browser may keep them for a year. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export function contentTypeOf(file: string): string {
  return TYPES[path.extname(file)] ?? 'application/octet-stream';
}

/**
 * The console's own modules are plain browser JS under libs/console/assets. The build (swc) would rewrite
 * them to CommonJS, so .swcrc leaves them out and they are read from the source tree: beside this file when
 * run from source, or four levels up from dist/libs/console/src in a build (the image copies the folder).
 */
export function assetsDir(from = __dirname): string {
  const candidates = [path.join(from, '../assets'), path.join(from, '../../../../libs/console/assets')];
  const found = candidates.find((d) => existsSync(path.join(d, 'app.js')));
  if (!found) throw new Error(`the console's assets are missing (looked in ${candidates.join(', ')})`);
  return found;
}

function packageVersion(entry: string, name: string): string {
  let dir = path.dirname(entry);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json of ${name} above ${entry}`);
    dir = up;
  }
}

export interface VendorFile {
  /** The URL path, with the package's version in it. */
  url: string;
  file: string;
  /** Bare specifiers rewritten to URLs: a browser without an import map (inline script, refused by the CSP) cannot resolve them. */
  rewrite?: Record<string, string>;
}

/**
 * The third-party modules, straight from node_modules (resolved as Node resolves them, so no copy step and
 * nothing fetched at run time): Preact and its hooks, htm, uPlot with its stylesheet.
 */
export function vendorFiles(
  resolve: (id: string) => string = require.resolve,
): Record<'preact' | 'hooks' | 'htm' | 'uplot' | 'uplotCss', VendorFile> {
  const preact = resolve('preact');
  const htm = resolve('htm');
  const uplot = resolve('uplot');
  const at = (name: string, entry: string, file: string) => `/console/vendor/${name}@${packageVersion(entry, name)}/${file}`;
  const preactUrl = at('preact', preact, 'preact.mjs');
  return {
    preact: { url: preactUrl, file: preact },
    hooks: { url: at('preact', preact, 'hooks.mjs'), file: resolve('preact/hooks'), rewrite: { preact: preactUrl } },
    htm: { url: at('htm', htm, 'htm.mjs'), file: path.join(path.dirname(htm), 'htm.mjs') },
    uplot: { url: at('uplot', uplot, 'uPlot.esm.js'), file: path.join(path.dirname(uplot), 'uPlot.esm.js') },
    uplotCss: { url: at('uplot', uplot, 'uPlot.min.css'), file: path.join(path.dirname(uplot), 'uPlot.min.css') },
  };
}

function rewriteSpecifiers(source: string, rewrite: Record<string, string>): string {
  let out = source;
  for (const [bare, url] of Object.entries(rewrite)) {
    out = out.replace(
      new RegExp(`(from\\s*|import\\s*\\(?\\s*)(["'])${bare.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\2`, 'g'),
      `$1$2${url}$2`,
    );
  }
  return out;
}

/**
 * Every file the console serves, by URL path. `/console/vendor.js` is generated: it re-exports the vendored
 * modules under their versioned URLs, so the console's own modules import from './vendor.js' and need no
 * versions of their own.
 */
export function loadConsoleFiles(dir = assetsDir(), vendor = vendorFiles()): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>();
  const walk = (sub: string): void => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.posix.join(sub, entry.name);
      if (entry.isDirectory()) walk(rel);
      else
        files.set(`/console/${rel}`, { body: readFileSync(path.join(dir, rel)), contentType: contentTypeOf(entry.name), immutable: false });
    }
  };
  walk('');
  for (const v of Object.values(vendor)) {
    const text = readFileSync(v.file, 'utf8');
    const body = Buffer.from(v.rewrite ? rewriteSpecifiers(text, v.rewrite) : text, 'utf8');
    files.set(v.url, { body, contentType: contentTypeOf(v.url), immutable: true });
  }
  const shim = [
    `export { h, render, Fragment } from '${vendor.preact.url}';`,
    `export { useState, useEffect, useRef, useCallback, useMemo } from '${vendor.hooks.url}';`,
    `import htm from '${vendor.htm.url}';`,
    `import { h } from '${vendor.preact.url}';`,
    `export const html = htm.bind(h);`,
    `export { default as uPlot } from '${vendor.uplot.url}';`,
    `export const UPLOT_CSS = '${vendor.uplotCss.url}';`,
    '',
  ].join('\n');
  files.set('/console/vendor.js', { body: Buffer.from(shim, 'utf8'), contentType: contentTypeOf('vendor.js'), immutable: false });
  const index = files.get('/console/index.html');
  if (index) {
    // The page links uPlot's stylesheet by its versioned URL.
    const page = index.body.toString('utf8').replace('%UPLOT_CSS%', vendor.uplotCss.url);
    files.set('/console/index.html', { ...index, body: Buffer.from(page, 'utf8') });
  }
  return files;
}
