/**
 * The admin API on the metrics listener of a real tracker (file registry): refused without the
 * bearer token, off without one configured, and every change effective on the very next announce.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { decode } from '../../src/bittorrent/bencode.js';
import { ConfigError } from '../../src/config/errors.js';
import { escapeBytes, get } from '../support/http-client.js';

const TOKEN = 'a-long-enough-admin-token';
const PK = '0123456789abcdef0123456789abcdef';
const IH = Buffer.alloc(20, 0x5a);

function call(port: number, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        const isJson = String(res.headers['content-type']).startsWith('application/json') && text.trim() !== '';
        resolve({ status: res.statusCode!, json: isJson ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startTracker(dir: string, adminToken: string): Promise<Tracker> {
  const config = validateConfig({
    metrics_addr: '127.0.0.1:0', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
    registry: { source: 'file', users: join(dir, 'users.csv'), torrents: join(dir, 'torrents.csv'), poll_interval: '1h', admin_token: adminToken },
    prehooks: [{ name: 'user_approval' }, { name: 'torrent_approval' }],
  });
  const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
  await tracker.start();
  return tracker;
}

describe('admin API', () => {
  let dir: string;
  let tracker: Tracker;
  let port: number;
  const announce = async () => {
    const q = `info_hash=${escapeBytes(IH)}&peer_id=${escapeBytes(Buffer.from('-qB4520-000000000001'))}&port=1&uploaded=0&downloaded=0&left=9`;
    const r = await get(tracker.port('http'), `/${PK}/announce?${q}`);
    return (decode(r.body) as unknown as Record<string, Buffer | undefined>)['failure reason']?.toString();
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'privtrak-admin-'));
    writeFileSync(join(dir, 'users.csv'), 'passkey\n');
    writeFileSync(join(dir, 'torrents.csv'), `info_hash\n${IH.toString('hex')}\n`);
    tracker = await startTracker(dir, TOKEN);
    port = tracker.port('metrics');
  });
  after(async () => {
    await tracker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses requests without the bearer token, or with a wrong one, and changes nothing', async () => {
    assert.equal((await call(port, 'PUT', `/admin/users/${PK}`)).status, 401);
    assert.equal((await call(port, 'PUT', `/admin/users/${PK}`, { token: 'wrong-token-wrong-token' })).status, 401);
    assert.equal((await call(port, 'GET', '/admin/status', { token: `${TOKEN}x` })).status, 401);
    assert.equal(await announce(), 'unknown passkey');
    assert.equal((await call(port, 'GET', '/metrics')).status, 200, '/metrics needs no token');
  });

  it('adds, disables, enables and removes a user: each effective on the next announce', async () => {
    assert.equal(await announce(), 'unknown passkey');
    const put = await call(port, 'PUT', `/admin/users/${PK}`, { token: TOKEN, body: { site_id: 5 } });
    assert.deepEqual(put, { status: 200, json: { passkey: PK, site_id: 5, enabled: true, can_leech: true } });
    assert.equal(await announce(), undefined);
    assert.equal((await call(port, 'POST', `/admin/users/${PK}/disable`, { token: TOKEN })).status, 200);
    assert.equal(await announce(), 'account disabled');
    assert.equal((await call(port, 'POST', `/admin/users/${PK}/enable`, { token: TOKEN })).status, 200);
    assert.equal(await announce(), undefined);
    assert.deepEqual(await call(port, 'GET', `/admin/users/${PK.toUpperCase()}`, { token: TOKEN }), { status: 200, json: { passkey: PK, site_id: 5, enabled: true, can_leech: true } });
    assert.equal((await call(port, 'DELETE', `/admin/users/${PK}`, { token: TOKEN })).status, 204);
    assert.equal(await announce(), 'unknown passkey');
    assert.equal((await call(port, 'DELETE', `/admin/users/${PK}`, { token: TOKEN })).status, 404);
    assert.equal((await call(port, 'POST', `/admin/users/${PK}/disable`, { token: TOKEN })).status, 404);
  });

  it('bans, unbans and removes a torrent at once; the file keeps the changes', async () => {
    await call(port, 'PUT', `/admin/users/${PK}`, { token: TOKEN, body: {} });
    const hex = IH.toString('hex');
    assert.equal((await call(port, 'PUT', `/admin/torrents/${hex}`, { token: TOKEN, body: { banned: true, site_id: 12 } })).status, 200);
    assert.equal(await announce(), 'torrent banned');
    assert.equal((await call(port, 'PUT', `/admin/torrents/${hex}`, { token: TOKEN, body: { download_multiplier: 0 } })).status, 200);
    assert.equal(await announce(), undefined);
    assert.match(readFileSync(join(dir, 'torrents.csv'), 'utf8'), new RegExp(`${hex},,false,0,`));
    assert.equal((await call(port, 'DELETE', `/admin/torrents/${hex}`, { token: TOKEN })).status, 204);
    assert.equal(await announce(), 'torrent not registered');
    const status = await call(port, 'GET', '/admin/status', { token: TOKEN });
    assert.equal(status.status, 200);
    assert.equal((status.json as Record<string, unknown>)['source'], 'file');
    assert.equal((status.json as Record<string, unknown>)['users'], 1);
  });

  it('answers 400 for bad input, naming what is wrong', async () => {
    const r1 = await call(port, 'PUT', '/admin/users/xyz', { token: TOKEN, body: {} });
    assert.deepEqual(r1, { status: 400, json: { error: 'passkey: expected 32 hex characters' } });
    const r2 = await call(port, 'PUT', `/admin/users/${PK}`, { token: TOKEN, body: { enabled: 'perhaps' } });
    assert.equal(r2.status, 400);
    const r3 = await call(port, 'PUT', `/admin/users/${PK}`, { token: TOKEN, body: { banned: true } });
    assert.match((r3.json as { error: string }).error, /unknown field "banned"/);
    assert.equal((await call(port, 'GET', '/admin/nothing', { token: TOKEN })).status, 404);
  });

  it('answers 413 to a body over its limit (16 KiB), closing the connection, and changes nothing', { timeout: 10_000 }, async () => {
    const other = 'fedcba9876543210fedcba9876543210';
    for (const size of [20 * 1024, 200 * 1024]) {
      const body = JSON.stringify({ site_id: 5, pad: 'x'.repeat(size) });
      const r = await new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
        const req = request({
          host: '127.0.0.1', port, method: 'PUT', path: `/admin/users/${other}`, agent: false,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => { text += c.toString(); });
          res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers['connection'], text }));
        });
        // The server answers before it has the whole body: writing the rest may then fail (EPIPE/reset), which is fine.
        req.on('error', (err) => (err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err));
        req.end(body);
      });
      assert.deepEqual(r, { status: 413, connection: 'close', text: '{"error":"body too large"}\n' }, `body of ${size} bytes`);
    }
    assert.equal((await call(port, 'GET', `/admin/users/${other}`, { token: TOKEN })).status, 404, 'no user was added');
  });

  it('is off without a token (404), and a token needs the metrics listener', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'privtrak-admin-off-'));
    const off = await startTracker(d2, '');
    try {
      assert.equal((await call(off.port('metrics'), 'GET', '/admin/status', { token: TOKEN })).status, 404);
    } finally {
      await off.stop();
      rmSync(d2, { recursive: true, force: true });
    }
    assert.throws(() => validateConfig({ metrics_addr: '', registry: { source: 'file', admin_token: TOKEN } }),
      (e: ConfigError) => e.key === 'registry.admin_token' && /metrics_addr/.test(e.message));
    assert.throws(() => validateConfig({ registry: { source: 'file', admin_token: 'short' } }),
      (e: ConfigError) => e.key === 'registry.admin_token' && /at least 16/.test(e.message));
  });
});
