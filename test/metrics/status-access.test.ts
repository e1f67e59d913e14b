/**
 * Who may see the status page (src/metrics/status-page.ts, status-auth.ts), over plain HTTP
 * against a real tracker in this process: with an admin token, nothing but the login form without
 * it; the login sets a cookie that opens the page, its files and /status.json, but not the admin
 * API; the bearer header works too. Without a token the page is open. The files are found from
 * dist/ (they are not compiled).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';

const TOKEN = 'status-page-test-token-0123';

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function startTracker(dir: string, token: string): Promise<Tracker> {
  writeFileSync(join(dir, 'users.csv'), 'passkey\n');
  writeFileSync(join(dir, 'torrents.csv'), 'info_hash\n');
  const tracker = new Tracker(validateConfig({
    metrics_addr: '127.0.0.1:0', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
    registry: { source: 'file', users: join(dir, 'users.csv'), torrents: join(dir, 'torrents.csv'), poll_interval: '1h', admin_token: token },
    prehooks: [{ name: 'user_approval' }],
  }), pino({ level: 'silent' }), { defaultMetrics: false });
  await tracker.start();
  return tracker;
}

const form = (token: string) => ({ body: `token=${encodeURIComponent(token)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });

describe('status page access', () => {
  let dir: string;
  let tracker: Tracker;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'privtrak-status-'));
    tracker = await startTracker(dir, TOKEN);
    port = tracker.port('metrics');
  });
  after(async () => {
    await tracker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without the token shows only the login form, and refuses the JSON and the files', async () => {
    const page = await call(port, 'GET', '/status');
    assert.equal(page.status, 401);
    assert.match(page.body, /<form method="post" action="\/status\/login">/);
    assert.doesNotMatch(page.body, /status\.js/, 'the login form loads no script');
    for (const path of ['/status.json', '/status/status.js', '/status/status.css']) {
      assert.equal((await call(port, 'GET', path)).status, 401, path);
    }
    assert.equal((await call(port, 'GET', '/status.json', { cookie: 'privtrak_status=forged' })).status, 401, 'a forged cookie');
    assert.equal((await call(port, 'GET', '/metrics')).status, 200, '/metrics is unchanged');
  });

  it('a wrong token at the login sets no cookie', async () => {
    const { body, headers } = form('not-the-token-at-all');
    const r = await call(port, 'POST', '/status/login', headers, body);
    assert.equal(r.status, 401);
    assert.equal(r.headers['set-cookie'], undefined);
    assert.match(r.body, /Wrong token/);
  });

  it('a login form over 4 KiB, even with the right token, is answered (401, connection closed), not reset, and sets no cookie', async () => {
    const { headers } = form(TOKEN);
    const body = `token=${encodeURIComponent(TOKEN)}&pad=${'x'.repeat(64 * 1024)}`;
    const r = await call(port, 'POST', '/status/login', { ...headers, 'content-length': String(body.length) }, body);
    assert.equal(r.status, 401);
    assert.equal(r.headers['connection'], 'close');
    assert.equal(r.headers['set-cookie'], undefined);
  });

  it('the right token sets a cookie (not the token) that opens the page, its files and the JSON, but not the admin API', async () => {
    const { body, headers } = form(TOKEN);
    const r = await call(port, 'POST', '/status/login', headers, body);
    assert.equal(r.status, 303);
    assert.equal(r.headers['location'], '/status');
    const setCookie = String(r.headers['set-cookie']);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.ok(!setCookie.includes(TOKEN), 'the cookie is not the token');
    const cookie = setCookie.split(';')[0]!;
    const page = await call(port, 'GET', '/status', { cookie });
    assert.equal(page.status, 200);
    assert.match(page.body, /<canvas data-chart="announces">/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
    const js = await call(port, 'GET', '/status/status.js', { cookie });
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.match(js.body, /status\.json/);
    assert.equal((await call(port, 'GET', '/status/status.css', { cookie })).status, 200);
    const json = await call(port, 'GET', '/status.json', { cookie });
    assert.equal(json.status, 200);
    const s = JSON.parse(json.body) as { mode: string; config: { registry: { admin_token: string } } };
    assert.equal(s.mode, 'single process');
    assert.equal(s.config.registry.admin_token, '(set)', 'the token is masked in the configuration shown');
    assert.ok(!json.body.includes(TOKEN));
    assert.equal((await call(port, 'GET', '/admin/status', { cookie })).status, 401, 'the cookie does not open the admin API');
    assert.equal((await call(port, 'GET', '/status/nothing-here', { cookie })).status, 404);
  });

  it('the bearer header opens the JSON (for scripts)', async () => {
    assert.equal((await call(port, 'GET', '/status.json', { authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await call(port, 'GET', '/status.json', { authorization: `Bearer ${TOKEN}x` })).status, 401);
  });

  it('without an admin token the page is as open as /metrics', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'privtrak-status-'));
    const open = await startTracker(dir2, '');
    try {
      const p = open.port('metrics');
      assert.equal((await call(p, 'GET', '/status')).status, 200);
      assert.equal((await call(p, 'GET', '/status.json')).status, 200);
      assert.equal((await call(p, 'GET', '/status/status.js')).status, 200);
    } finally {
      await open.stop();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
