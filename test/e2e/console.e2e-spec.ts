/// <reference lib="dom" />
// The page callbacks (page.evaluate) run in the browser: the DOM's types.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { bootApp, eventually, http, ROOT, TestApp, waitForTotal } from './support/embedded-app';

// Debian's Chromium, installed by scripts/test.sh through apt when missing.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = 'console-e2e-key-0123456789abcdef';
const SHOTS = path.join(ROOT, 'test-output/console');

describe('web console (embedded app, Chromium)', () => {
  let app: TestApp;
  let browser: Browser;
  let page: Page;
  const auth = { 'x-api-key': KEY };
  const post = (body: unknown) => http(`${app.url}/audit/events`, { method: 'POST', headers: auth, json: body });
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  // axe-core runs in the page: evaluated through the DevTools protocol, which the page's CSP (no inline script) allows.
  const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  const seriousViolations = async (p: Page): Promise<string[]> => {
    if (!(await p.evaluate('typeof axe'))?.toString().includes('object')) await p.evaluate(AXE);
    const found = (await p.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) =>
      ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) })))`)) as Array<{
      id: string;
      impact: string;
      nodes: string[];
    }>;
    return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.nodes.join(', ')}`);
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)`);
    mkdirSync(SHOTS, { recursive: true });
    app = await bootApp({ AUDIT_BOOTSTRAP_API_KEY: KEY });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true })).newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('should serve the page with a strict CSP and no inline script, and leave the API routes alone', async () => {
    const res = await fetch(`${app.url}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    const page = await res.text();
    // Every script element has a src; no style element or attribute.
    expect(page.match(/<script(?![^>]*\ssrc=)[^>]*>/g)).toBeNull();
    expect(page).not.toMatch(/<style|\sstyle=/);
    const vendor = await (await fetch(`${app.url}/console/vendor.js`)).text();
    const url = /from '(\/console\/vendor\/preact@[^']+)'/.exec(vendor)?.[1];
    const lib = await fetch(`${app.url}${url}`);
    expect(lib.status).toBe(200);
    expect(lib.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(lib.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${app.url}/console/../package.json`)).status).toBe(404);
    expect((await fetch(`${app.url}/console/nope.js`)).status).toBe(404);
    expect((await http(`${app.url}/health/live`)).status).toBe(200);
    const openapi = await http(`${app.url}/docs/openapi.json`, { headers: auth });
    expect(openapi.status).toBe(200);
    // The console's routes are not API routes: out of the OpenAPI document (docs/api.md lists them).
    const paths = Object.keys(openapi.body.paths as Record<string, unknown>);
    expect(paths.filter((p) => p === '/' || p.startsWith('/console'))).toEqual([]);
    expect(paths).toContain('/audit/statistics/timeline');
    expect((await http(`${app.url}/metrics`, { headers: auth })).status).toBe(200);
    expect((await http(`${app.url}/audit/events?limit=1`, { headers: auth })).status).toBe(200);
  });

  it('should sign in, filter, open an event whose inclusion proof the browser verifies, tail, chart and export', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && !/status of (400|401|404|409)/.test(m.text()) && errors.push(m.text()));
    for (let i = 0; i < 3; i++) {
      const r = await post({
        event_type: 'console_probe',
        category: 'security',
        severity: 'warning',
        description: `probe ${i}`,
        metadata: { site_id: 'SITE_C', n: i },
      });
      expect(r.status).toBe(201);
    }
    await waitForTotal(app.url, 'event_type=console_probe', 3);
    const oldest = (await http(`${app.url}/audit/events?event_type=console_probe&order=asc&limit=1`, { headers: auth })).body.events[0];
    await eventually(
      async () => {
        expect((await http(`${app.url}/audit/integrity/checkpoint`, { method: 'POST', headers: auth })).status).toBe(201);
        return (await http(`${app.url}/audit/events/${oldest.id}/proof`, { headers: auth })).status === 200 || undefined;
      },
      20_000,
      'a checkpoint covering the probe',
    );

    await page.goto(`${app.url}/`);
    await page.fill('#api-key', 'wrong-key-wrong-key-wrong-key');
    await page.click('button[type=submit]');
    await page.getByRole('alert').waitFor();
    await page.fill('#api-key', KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('#events-total');
    expect(await page.evaluate(() => sessionStorage.getItem('homepot-audit-key'))).toBe(KEY);

    await page.getByLabel('Event type').fill('console_probe');
    await page.getByLabel('Severity').selectOption('warning');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#events-total', { hasText: /^3 events$/ }).waitFor();
    expect(page.url()).toContain('event_type=console_probe');
    expect(page.url()).toContain('severity=warning');
    await shot('events');
    // The deep link reproduces the view (sessionStorage is per tab, so in the same tab).
    const deepLink = page.url();
    await page.goto(`${app.url}/#status`);
    await page.goto(deepLink);
    await page.locator('#events-total', { hasText: /^3 events$/ }).waitFor();
    expect(await page.getByLabel('Event type').inputValue()).toBe('console_probe');
    await page.getByLabel('Metadata key').fill('site_id');
    await page.getByLabel('Metadata value').fill('SITE_C');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByLabel('metadata.site_id').waitFor();
    expect(page.url()).toContain('metadata.site_id=SITE_C');
    await page.locator('#events-total', { hasText: /^3 events$/ }).waitFor();

    // Opened from the keyboard: focus moves into the dialog.
    await page.focus(`tr[data-id="${oldest.id}"] button.link`);
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'console_probe' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Close');
    await page.locator('#proof-status', { hasText: /verified|NOT|unavailable/ }).waitFor({ timeout: 15_000 });
    expect(await page.textContent('#proof-status')).toMatch(/^verified: leaf \d+ of \d+/);
    expect(await page.getAttribute(`tr[data-id="${oldest.id}"] time`, 'title')).toBe(`${oldest.timestamp} (UTC)`);
    await shot('event-detail');
    // The same check in the page fails for an altered event (a string, so the test's compiler leaves import() alone).
    const check = (change: string) =>
      page.evaluate(`(async () => {
        const { checkInclusion } = await import('/console/proof.js');
        const h = { 'X-API-Key': sessionStorage.getItem('homepot-audit-key') };
        const event = await (await fetch('/audit/events/${oldest.id}', { headers: h })).json();
        const proof = await (await fetch('/audit/events/${oldest.id}/proof', { headers: h })).json();
        ${change}
        return (await checkInclusion(event, proof, proof.checkpoint.root_hash)).ok;
      })()`);
    expect(await check('')).toBe(true);
    expect(await check("event.description += '!';")).toBe(false);
    expect(await check('event.metadata.n = 99;')).toBe(false);
    expect(await seriousViolations(page)).toEqual([]);
    // Tab and Shift+Tab stay in the dialog; Escape closes it and gives the focus back to the row's button.
    const inDialog = () => page.evaluate(() => Boolean(document.activeElement?.closest('[role=dialog]')));
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press('Tab');
      expect(await inDialog()).toBe(true);
    }
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Shift+Tab');
      expect(await inDialog()).toBe(true);
    }
    await page.keyboard.press('Escape');
    expect(await page.getByRole('dialog').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-id'))).toBe(oldest.id);
    // Opened again and closed with its button.
    await page.click(`tr[data-id="${oldest.id}"] button.link`);
    await page.getByRole('button', { name: 'Close' }).click();
    expect(await page.getByRole('dialog').count()).toBe(0);
    // Paging from the keyboard: the pager keeps the focus while the next page loads (the page shown meanwhile is
    // the previous one, marked busy).
    const filtered = page.url();
    const loaded = (range: string) =>
      page.waitForFunction(
        (r) => document.querySelector('.pager span')?.textContent === r && !document.querySelector('[aria-busy=true]'),
        range,
      );
    await page.goto(`${deepLink}&limit=1`);
    await loaded('1-1');
    const firstRow = await page.getAttribute('tbody tr', 'data-id');
    await page.focus('.pager button:has-text("Older")');
    await page.keyboard.press('Enter');
    await loaded('2-2');
    expect(await page.getAttribute('tbody tr', 'data-id')).not.toBe(firstRow);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Older');
    await page.goto(filtered);
    await page.locator('#events-total', { hasText: /^3 events$/ }).waitFor();

    // The live tail keeps the filter (type, severity, site): the other type must not show.
    await page.getByRole('link', { name: 'Live tail' }).click();
    // Shown once the stream's ready frame has come: what is posted from then on is sent.
    await page.getByText(/Live: newest first/).waitFor();
    await post({
      event_type: 'console_probe',
      category: 'security',
      severity: 'warning',
      description: 'arrives live',
      metadata: { site_id: 'SITE_C' },
    });
    await post({
      event_type: 'other_type',
      category: 'security',
      severity: 'warning',
      description: 'filtered out',
      metadata: { site_id: 'SITE_C' },
    });
    await page.getByRole('cell', { name: 'arrives live' }).waitFor({ timeout: 15_000 });
    await page.click('#pause');
    await post({
      event_type: 'console_probe',
      category: 'security',
      severity: 'warning',
      description: 'while paused',
      metadata: { site_id: 'SITE_C' },
    });
    await waitForTotal(app.url, 'event_type=console_probe', 5);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await page.getByRole('cell', { name: 'while paused' }).count()).toBe(0);
    expect(await page.getByRole('cell', { name: 'filtered out' }).count()).toBe(0);
    await shot('live');

    await page.goto(`${app.url}/#stats`);
    await page.waitForSelector('#histogram[data-by=category] canvas');
    await shot('statistics');
    // The last bar is the current hour: a click on its bottom segment filters the table to that hour and
    // that segment's category; then the same split by severity, chosen with the toggle.
    const clickLastBar = async () => {
      // uPlot draws after the statistics answer: wait for its overlay rather than read it too early.
      await page.locator('#histogram .u-over').waitFor({ state: 'visible', timeout: 15_000 });
      const box = await page.locator('#histogram .u-over').boundingBox();
      if (!box) throw new Error('no chart');
      // The last bar's right edge depends on the axis's range and the bar width: a few points from the right
      // edge inwards, each tried until one lands on the bar and the table opens.
      for (const dx of [3, 6, 10, 16, 24]) {
        await page.mouse.move(box.x + box.width - dx, box.y + box.height - 2);
        await page.mouse.click(box.x + box.width - dx, box.y + box.height - 2);
        const opened = await page
          .waitForSelector('#events-total', { timeout: 5_000 })
          .then(() => true)
          .catch(() => false);
        if (opened) return;
      }
      throw new Error('no click on the last bar opened the table');
    };
    for (const by of ['category', 'severity'] as const) {
      if (by === 'severity') {
        await page.goto(`${app.url}/#stats`);
        await page.waitForSelector('#histogram[data-by=category] canvas');
        await page.getByLabel('severity', { exact: true }).check();
        await page.waitForSelector('#histogram[data-by=severity] canvas');
        expect(page.url()).toContain('#stats?by=severity');
        // Drawn from the severity answer, never from the category one still held while it loads.
        const keys = (await page.getAttribute('#histogram', 'data-keys'))?.split(',') ?? [];
        expect(keys.length).toBeGreaterThan(0);
        expect(keys.filter((k) => !['debug', 'info', 'warning', 'error', 'critical'].includes(k))).toEqual([]);
        await shot('statistics-severity');
      }
      await clickLastBar();
      const url = new URL(page.url().replace('#events?', '?'));
      const hourStart = url.searchParams.get('start') ?? '';
      // A whole hour, the current one (or the one before, when the test crossed the hour).
      expect(Date.parse(hourStart) % 3600e3).toBe(0);
      expect(Date.now() - Date.parse(hourStart)).toBeLessThan(2 * 3600e3);
      expect(Date.parse(url.searchParams.get('end') ?? '') - Date.parse(hourStart)).toBe(3600e3 - 1);
      const key = url.searchParams.get(by);
      expect(key).toBeTruthy();
      // The table holds that hour's events of that key, as the API counts them.
      const q = new URLSearchParams({ start: hourStart, end: url.searchParams.get('end') ?? '', [by]: key ?? '' });
      const total = (await http(`${app.url}/audit/events?${q}&limit=1`, { headers: auth })).body.total as number;
      expect(total).toBeGreaterThan(0);
      await page.locator('#events-total', { hasText: /^\d+ events$/ }).waitFor();
      const column = by === 'category' ? 3 : 4;
      const cells = await page.locator(`table[aria-label=Events] tbody td:nth-child(${column})`).allTextContents();
      expect(cells.length).toBeGreaterThan(0);
      expect(new Set(cells)).toEqual(new Set([key]));
    }
    await page.goto(`${app.url}/#stats`);
    await page.click('a[data-filter="metadata.site_id=SITE_C"]');
    await page.locator('#events-total', { hasText: /^6 events$/ }).waitFor();

    await page.goto(`${app.url}/#exports?event_type=console_probe`);
    await page.selectOption('#export-format', 'ndjson');
    await page.click('#start-export');
    await page.waitForSelector('#download-export', { timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-export')]);
    const file = path.join(SHOTS, download.suggestedFilename());
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event_type: string });
    expect(lines).toHaveLength(5);
    expect(lines.every((l) => l.event_type === 'console_probe')).toBe(true);
    await shot('export');

    // The read-mostly panels render what their capability answers as tables, with no error.
    expect(
      (await http(`${app.url}/audit/retention`, { method: 'POST', headers: auth, json: { retention_days: 2555, archive_after_days: 365 } }))
        .status,
    ).toBe(201);
    expect(
      (
        await http(`${app.url}/audit/legal-holds`, {
          method: 'POST',
          headers: auth,
          json: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', reason: 'console probe hold', case_id: 'CASE-14' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await http(`${app.url}/audit/alerts`, {
          method: 'POST',
          headers: auth,
          json: { alert_name: 'console probe', event_types: ['console_probe'], threshold: 50, time_window: 60 },
        })
      ).status,
    ).toBe(201);
    for (const [view, heading] of [
      ['alerts', 'Alert rules'],
      ['retention', 'Retention policy and state'],
      ['integrations', 'SIEM integrations'],
      ['integrity', 'Latest checkpoint'],
      ['status', 'Status'],
    ]) {
      await page.goto(`${app.url}/#${view}`);
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await page.waitForLoadState('networkidle');
      expect(await page.getByRole('alert').count()).toBe(0);
    }
    await page.goto(`${app.url}/#alerts`);
    await page.getByRole('cell', { name: 'console probe', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Show the firings of console probe' }).click();
    await page.getByText('This rule has not fired.').waitFor();
    await page.goto(`${app.url}/#retention`);
    const policy = page.getByRole('table', { name: 'Retention policy' });
    await policy.getByRole('row', { name: /Kept for 2555 days/ }).waitFor();
    await policy.getByRole('row', { name: /Archived after 365 days/ }).waitFor();
    await page.getByRole('table', { name: 'Legal holds' }).getByRole('cell', { name: 'CASE-14' }).waitFor();
    await page.getByText('No archives yet.').waitFor();
    await page.getByText('No pending changes.').waitFor();
    await shot('retention');
    await page.goto(`${app.url}/#integrations`);
    await page.getByText(/^No SIEM integrations yet/).waitFor();
    await page.goto(`${app.url}/#status`);
    await page.getByRole('table', { name: 'Components' }).getByRole('cell', { name: 'query store' }).waitFor();
    await page.getByRole('table', { name: 'Consumer groups' }).getByRole('cell', { name: 'audit.query-store.v1' }).waitFor();
    expect(await page.textContent('#status-overall')).toBe('ok');
    await shot('status');
    await page.goto(`${app.url}/#integrity`);
    const checkpoint = page.getByRole('table', { name: 'Latest checkpoint' });
    await checkpoint.getByRole('row', { name: /^Tree size \d+/ }).waitFor();
    // A refused request shows the API's message, naming what was wrong.
    await page.getByLabel('From (RFC 3339)').fill('yesterday');
    await page.getByRole('button', { name: 'Verify range' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/from/i);
    await page.getByLabel('From (RFC 3339)').fill('');
    await page.getByRole('button', { name: 'Verify range' }).click();
    await page.getByText(/^ok: \d+ leaves checked/).waitFor({ timeout: 30_000 });
    await page.getByText('No findings: every leaf matches its stored event.').waitFor();
    await shot('integrity');
    // The console's reads are ordinary API reads: audited as api_access of the key it signed in with.
    const reads = await http(`${app.url}/audit/events?event_type=api_access&limit=1000`, { headers: auth });
    expect(
      reads.body.events.some((e: { metadata: Record<string, unknown> }) => JSON.stringify(e.metadata).includes('/audit/events/stream')),
    ).toBe(true);
    expect(errors).toEqual([]);
  });

  it('should have no serious or critical accessibility violation and fit a 1280x800 laptop on every view', async () => {
    const laptop = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const errors: string[] = [];
    laptop.on('pageerror', (e) => errors.push(e.message));
    await laptop.goto(`${app.url}/`);
    // The sign-in form first, then signed in from the keyboard alone.
    expect(await seriousViolations(laptop)).toEqual([]);
    await laptop.getByLabel('API key').focus();
    await laptop.keyboard.type(KEY);
    await laptop.keyboard.press('Enter');
    await laptop.waitForSelector('#events-total');
    // Tab from the top reaches the skip link first, and it shows (a visible focus).
    await laptop.keyboard.press('Tab');
    expect(await laptop.evaluate(() => document.activeElement?.textContent)).toBe('Skip to the content');
    expect((await laptop.locator('a.skip').boundingBox())?.x).toBeGreaterThanOrEqual(0);
    const outline = await laptop.evaluate(() => getComputedStyle(document.activeElement as Element).outlineStyle);
    expect(outline).not.toBe('none');
    const views = ['events', 'live', 'stats', 'exports', 'alerts', 'retention', 'integrations', 'integrity', 'status'];
    for (const view of views) {
      await laptop.goto(`${app.url}/#${view}?event_type=console_probe`);
      await laptop.locator('main h2, main form, main table').first().waitFor();
      await laptop.waitForLoadState('networkidle');
      if (view === 'stats') await laptop.waitForSelector('#histogram canvas');
      expect({ view, violations: await seriousViolations(laptop) }).toEqual({ view, violations: [] });
      // Nothing wider than the window: no sideways scrolling of the page.
      expect({ view, overflow: await laptop.evaluate(() => document.documentElement.scrollWidth - innerWidth) }).toEqual({
        view,
        overflow: 0,
      });
      if (view === 'stats') await laptop.screenshot({ path: path.join(SHOTS, 'laptop-statistics.png') });
    }
    // Every form control has a label.
    await laptop.goto(`${app.url}/#events`);
    await laptop.waitForSelector('#events-total');
    const unlabelled = await laptop.evaluate(
      () =>
        Array.from(document.querySelectorAll('input, select, textarea')).filter(
          (c) => !(c as HTMLInputElement).labels?.length && !c.getAttribute('aria-label'),
        ).length,
    );
    expect(unlabelled).toBe(0);
    expect(errors).toEqual([]);
    await laptop.close();
  });
});
