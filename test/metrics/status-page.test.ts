/**
 * The status page in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven over
 * the DevTools protocol by playwright-core) logs in with the admin token and loads /status from a
 * `privtrak serve` child process running the private chain (file registry, user_approval,
 * torrent_approval, the privtrak hook into SQLite) under a light announce load, plus trickles of
 * scrapes and of announces with an unknown passkey (refusals). It waits until the charts have drawn several
 * polls, then checks every chart plotted data (the chart's own counts, and coloured pixels read
 * back from the canvas), that no passkey appears in the page or in /status.json, and keeps a
 * screenshot in test-artifacts/status-page.png (docs/status-page.png is a copy of one, taken with
 * PRIVTRAK_STATUS_PAGE_POINTS=30).
 *
 * Chromium missing: fails with CI=true, skips otherwise.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, ROOT, startTracker, waitExit } from '../support/tracker-process.js';
import { AnnounceLoad } from '../support/announce-load.js';
import { escapeBytes, get } from '../support/http-client.js';

const CHROMIUM = process.env['PRIVTRAK_CHROMIUM'] ?? '/usr/bin/chromium';
const TOKEN = 'status-page-browser-test-token';
/** Announces per second of the registered users, and of the unknown passkey. */
const RATE = 300;
const REFUSED_RATE = 10;
const UNKNOWN_PASSKEY = 'feedface'.repeat(4);
/**
 * Every chart must have plotted a line of this many points in one series (4 polls give 3 rates).
 * PRIVTRAK_STATUS_PAGE_POINTS=30 keeps the load on for a minute: the picture in docs/status-page.png.
 */
const MIN_POINTS = Math.max(3, Number(process.env['PRIVTRAK_STATUS_PAGE_POINTS'] ?? 3));
/** The page polls every 2 s: time for MIN_POINTS polls and more, on a slow machine. */
const WAIT_MS = 15_000 + MIN_POINTS * 3000;
/** Scrapes per second (a scrape chart with nothing in it would prove nothing). */
const SCRAPE_RATE = 20;
const CHARTS = ['announces', 'scrapes', 'refusals', 'latency', 'pending', 'lag', 'flush', 'registry', 'swarms', 'memory', 'eventloop'];
export const SCREENSHOT = join(ROOT, 'test-artifacts', 'status-page.png');

interface ChartState { points: number; longest: number; series: number; max: number; colouredPixels: number }

/**
 * Runs in the page: what each chart says it drew, and its coloured pixels below the legend.
 * Functions, not strings: the page's Content-Security-Policy forbids eval, and the test keeps it on.
 */
function readCharts(): Record<string, ChartState> {
  const doc = (globalThis as any).document;
  const out: Record<string, ChartState> = {};
  for (const c of doc.querySelectorAll('canvas[data-chart]')) {
    const top = Math.ceil((Number(c.dataset.plotTop ?? 0) + 2) * ((globalThis as any).devicePixelRatio || 1));
    const px: Uint8ClampedArray = c.getContext('2d').getImageData(0, top, c.width, Math.max(1, c.height - top)).data;
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) {
      // Grid, axis labels and background are grey: only series lines are saturated.
      if (px[i + 3]! > 0 && Math.max(px[i]!, px[i + 1]!, px[i + 2]!) - Math.min(px[i]!, px[i + 1]!, px[i + 2]!) > 60) coloured++;
    }
    out[c.dataset.chart] = { points: Number(c.dataset.points ?? 0), longest: Number(c.dataset.longest ?? 0), series: Number(c.dataset.series ?? 0), max: Number(c.dataset.max ?? 0), colouredPixels: coloured };
  }
  return out;
}

/** Runs in the page: every chart has a line of `min` points, and announces and refusals show a rate (what the test waits for). */
function chartsReady({ charts, min }: { charts: string[]; min: number }): boolean {
  const get = (name: string) => (globalThis as any).document.querySelector(`canvas[data-chart="${name}"]`)?.dataset ?? {};
  return charts.every((n) => Number(get(n).longest ?? 0) >= min) && Number(get('announces').max) > 0 && Number(get('refusals').max) > 0;
}

it('the status page draws live data from a tracker under load, and shows no passkey', { timeout: WAIT_MS + 40_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env['CI'] === 'true') throw new Error(`chromium is required in CI but missing at ${CHROMIUM} (apt-get install chromium)`);
    t.skip(`chromium not installed at ${CHROMIUM} (Debian package chromium)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-status-page-'));
  // The load's passkeys and torrents, read before the tracker exists (its constructor only builds them).
  const plan = new AnnounceLoad({ port: 0, rate: RATE });
  const passkeys = plan.passkeys();
  writeFileSync(join(dir, 'users.csv'), `passkey,site_id,enabled,can_leech\n${passkeys.map((p, i) => `${p},${i + 1},true,true`).join('\n')}\n`);
  writeFileSync(join(dir, 'torrents.csv'), `info_hash,site_id\n${plan.infoHashes().map((h, i) => `${h.toString('hex')},${i + 1}`).join('\n')}\n`);
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'config.yaml'), [
    'log_level: info', // startTracker waits for the "privtrak started" line
    `metrics_addr: "127.0.0.1:${metricsPort}"`,
    `http: {addr: "127.0.0.1:${httpPort}"}`,
    'udp: {addr: ""}',
    'registry:',
    '  source: file',
    `  users: ${JSON.stringify(join(dir, 'users.csv'))}`,
    `  torrents: ${JSON.stringify(join(dir, 'torrents.csv'))}`,
    `  admin_token: ${TOKEN}`,
    'prehooks:',
    '  - name: user_approval',
    '  - name: torrent_approval',
    '    options: {mode: whitelist}',
    '  - name: privtrak',
    '    options:',
    `      journal_dir: ${JSON.stringify(join(dir, 'journal'))}`,
    '      flush_interval: 200ms',
    '      max_pending: 200000',
    '      prometheus_reporting_interval: 200ms',
    `      sink: {name: sqlite, path: ${JSON.stringify(join(dir, 'privtrak.sqlite'))}}`,
  ].join('\n'));

  let tracker: ChildProcess | undefined;
  let scrapes: NodeJS.Timeout | undefined;
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  const load = new AnnounceLoad({ port: httpPort, rate: RATE });
  const refused = new AnnounceLoad({ port: httpPort, rate: REFUSED_RATE, users: 1, peersPerUser: 5, path: () => `/${UNKNOWN_PASSKEY}/announce` });
  try {
    tracker = await startTracker(join(dir, 'config.yaml'), { cwd: dir });
    load.start();
    refused.start();
    scrapes = setInterval(() => {
      // Bounded: one scrape per tick, each with its own timeout (get); the interval ends in finally.
      get(httpPort, `/${passkeys[0]}/scrape?info_hash=${escapeBytes(plan.infoHashes()[0]!)}`).catch(() => undefined);
    }, 1000 / SCRAPE_RATE);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    // A script error or a Content-Security-Policy violation (an inline script, a blocked request) shows here.
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${m.text()} (${m.location().url})`); });
    await page.goto(`http://127.0.0.1:${metricsPort}/status`);
    assert.equal(await page.locator('canvas').count(), 0, 'without the token: the login form, no charts');
    await page.fill('input[name="token"]', TOKEN);
    await Promise.all([page.waitForURL(`http://127.0.0.1:${metricsPort}/status`), page.click('button[type="submit"]')]);
    await page.waitForFunction(chartsReady, { charts: CHARTS, min: MIN_POINTS }, { timeout: WAIT_MS, polling: 250 });

    const charts = await page.evaluate(readCharts);
    t.diagnostic(JSON.stringify(charts));
    assert.deepEqual(Object.keys(charts).sort(), [...CHARTS].sort(), 'the page has every chart');
    for (const name of CHARTS) {
      const c = charts[name]!;
      assert.ok(c.series >= 1 && c.longest >= MIN_POINTS, `${name}: plotted ${c.points} points in ${c.series} series, ${c.longest} in the longest`);
      assert.ok(c.colouredPixels > 20, `${name}: ${c.colouredPixels} coloured pixels on the canvas`);
    }
    assert.ok(charts['announces']!.max > RATE / 4, `announces per second peaked at ${charts['announces']!.max} under ${RATE}/s`);
    assert.ok(charts['announces']!.max < RATE * 4, `announces per second peaked at ${charts['announces']!.max} under ${RATE}/s`);
    assert.ok(charts['refusals']!.max > 0, 'the unknown passkey shows as refusals');
    assert.ok(charts['swarms']!.max >= 100, `swarms peaked at ${charts['swarms']!.max}`);
    assert.match(await page.locator('#mode').textContent() ?? '', /Single process/);
    assert.match(await page.locator('#pending-limit').textContent() ?? '', /max_pending 200000/);
    assert.match(await page.locator('#config').textContent() ?? '', /"admin_token": "\(set\)"/);

    assert.deepEqual(pageErrors.filter((e) => !e.includes('401')), [], 'no script error or CSP violation in the page');

    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // No passkey anywhere: not in the page as rendered, not in what its script reads.
    const json = await page.evaluate(() => (globalThis as any).fetch('status.json').then((r: any) => r.text()) as Promise<string>);
    const html = await page.content();
    for (const passkey of [...passkeys, UNKNOWN_PASSKEY]) {
      assert.ok(!json.includes(passkey), `passkey ${passkey} in /status.json`);
      assert.ok(!html.includes(passkey), `passkey ${passkey} in the page`);
    }
    assert.ok(!json.includes(TOKEN) && !html.includes(TOKEN), 'the admin token is not shown');
    assert.deepEqual(load.counts.failures, [], 'the registered users\' announces were accepted');
    assert.ok(load.counts.accepted > RATE, `${load.counts.accepted} announces accepted`);
  } finally {
    clearInterval(scrapes);
    await browser?.close();
    await load.stop();
    await refused.stop();
    if (tracker !== undefined) {
      tracker.kill('SIGTERM');
      await waitExit(tracker);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
