/**
 * A site resets a user's passkey in the middle of a client's session (issue 11): through the
 * admin API, or in the registry's own data picked up by a refresh. The client goes on under the
 * new passkey with the same peer_id and counters. The user is the site user, not the passkey:
 * one set of totals, equal to the client's last counters — no new-session credit, no lost delta.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import Database from 'better-sqlite3';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { SqliteSink } from '../../src/sinks/sqlite-sink.js';
import { siteUserKey } from '../../src/accounting/user-key.js';
import { decode } from '../../src/bittorrent/bencode.js';
import { escapeBytes, get } from '../support/http-client.js';

const OLD = '0123456789abcdef0123456789abcdef';
const NEW = 'fedcba9876543210fedcba9876543210';
const SITE_ID = 5;
const TOKEN = 'passkey-change-admin-token';
const IH = Buffer.alloc(20, 0x42);
const PEER = Buffer.from('-qB4520-passkeychang');

function admin(port: number, method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      host: '127.0.0.1', port, method, path, agent: false,
      headers: { authorization: `Bearer ${TOKEN}`, ...(text === undefined ? {} : { 'content-type': 'application/json' }) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end(text);
  });
}

async function run(change: (tracker: Tracker, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-passkey-change-'));
  try {
    writeFileSync(join(dir, 'users.csv'), `passkey,site_id,enabled,can_leech\n${OLD},${SITE_ID},true,true\n`);
    writeFileSync(join(dir, 'torrents.csv'), 'info_hash,site_id,banned,download_multiplier,upload_multiplier\n');
    const dbPath = join(dir, 'stats.sqlite');
    const config = validateConfig({
      metrics_addr: '127.0.0.1:0', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
      user_key_secret: join(dir, 'user-key.secret'),
      registry: { source: 'file', users: join(dir, 'users.csv'), torrents: join(dir, 'torrents.csv'), poll_interval: '1h', admin_token: TOKEN },
      prehooks: [
        { name: 'user_approval' }, { name: 'peer_limits', options: { max_peers_per_torrent: 1 } },
        { name: 'privtrak', options: { journal_dir: join(dir, 'journal'), flush_interval: '20ms', sink: { name: 'sqlite', path: dbPath, delta_log: true } } },
      ],
    });
    const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
    await tracker.start();
    const announce = async (passkey: string, up: number, down: number, left: number, event = '') => {
      const r = await get(tracker.port('http'), `/${passkey}/announce?info_hash=${escapeBytes(IH)}&peer_id=${escapeBytes(PEER)}&port=6881`
        + `&uploaded=${up}&downloaded=${down}&left=${left}${event ? `&event=${event}` : ''}`);
      return (decode(r.body) as unknown as Record<string, Buffer | undefined>)['failure reason']?.toString();
    };
    try {
      assert.equal(await announce(OLD, 0, 0, 1000, 'started'), undefined);
      assert.equal(await announce(OLD, 100, 300, 700), undefined);
      await change(tracker, dir);
      assert.equal(await announce(OLD, 150, 400, 600), 'unknown passkey', 'the old passkey is gone');
      // The same client, same peer_id and counters, now under the new passkey (peer_limits: still one peer).
      assert.equal(await announce(NEW, 250, 700, 300), undefined);
      assert.equal(await announce(NEW, 400, 1000, 0, 'stopped'), undefined);
    } finally {
      await tracker.stop();
    }
    const sink = new SqliteSink({ path: dbPath });
    await sink.open();
    try {
      const rows = await sink.totals({ byTorrent: false });
      assert.deepEqual(rows.map((r) => [r.user.toString('hex'), r.uploaded, r.downloaded, r.snatched]),
        [[siteUserKey(SITE_ID).toString('hex'), 400n, 1000n, 1n]], 'one user, the client\'s last counters, one snatch');
    } finally {
      await sink.close();
    }
    const db = new Database(dbPath, { readonly: true });
    try {
      const log = db.prepare('SELECT event, delta_up, delta_down, flags FROM privtrak_delta_log ORDER BY seq').all();
      assert.deepEqual(log, [
        { event: 'started', delta_up: 0, delta_down: 0, flags: 0 },
        { event: 'none', delta_up: 100, delta_down: 300, flags: 0 },
        // Under the new passkey: a known peer (no unknown_peer flag), only what it moved since.
        { event: 'none', delta_up: 150, delta_down: 400, flags: 0 },
        { event: 'stopped', delta_up: 150, delta_down: 300, flags: 0 },
      ]);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a passkey change in the middle of a session', () => {
  it('through the admin API: one set of totals for the site user, no new-session credit, nothing lost', async () => {
    await run(async (tracker) => {
      const port = tracker.port('metrics');
      assert.equal(await admin(port, 'DELETE', `/admin/users/${OLD}`), 204);
      assert.equal(await admin(port, 'PUT', `/admin/users/${NEW}`, { site_id: SITE_ID }), 200);
    });
  });

  it('in the registry\'s data, picked up by a refresh: the same', async () => {
    await run(async (tracker, dir) => {
      writeFileSync(join(dir, 'users.csv'), `passkey,site_id,enabled,can_leech\n${NEW},${SITE_ID},true,true\n`);
      assert.equal(await tracker.accessRegistry!.refresh(), true);
    });
  });
});
