/**
 * Cut-over from UNIT3D-Announce: on privtrak's first start the counters UNIT3D-Announce left in
 * the active `peers` rows become the live peers' baselines, so a peer's first announce to
 * privtrak (no `started`: the client was already running) is counted from them instead of being an
 * unknown peer's zero.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Tracker } from '../../../src/tracker.js';
import { validateConfig } from '../../../src/config/load.js';
import { get, escapeBytes } from '../../support/http-client.js';
import { API_KEY, TORRENT, USER, pk, seedSite, siteDb } from './support.js';

const PEER = Buffer.from('-qB4520-adoptedpeer1');

describe('unit3d: adopting UNIT3D-Announce\'s last peer counters', () => {
  it('a live peer\'s first announce is counted from its peers row; an inactive row is not adopted', async (t) => {
    const db = await siteDb(t);
    if (db === undefined) return;
    await seedSite(db);
    const row = (user: number, torrent: number, active: number) => [`INSERT INTO peers (peer_id, ip, port, agent, uploaded, downloaded, \`left\`, seeder,
      created_at, updated_at, torrent_id, user_id, active, visible) VALUES (?, X'0a000001', 6881, 'qBittorrent/4.5.2', 1000, 300, 0, 1,
      UTC_TIMESTAMP() - INTERVAL 10 MINUTE, UTC_TIMESTAMP() - INTERVAL 10 MINUTE, ?, ?, ?, 1)`, [PEER, torrent, user, active]] as [string, unknown[]];
    await db.exec([row(USER.alice, TORRENT.approved.id, 1), row(USER.bob, TORRENT.approved.id, 0)]);
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-unit3d-adopt-'));
    const tracker = new Tracker(validateConfig({
      log_level: 'silent', metrics_addr: '', http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, user_key_secret: join(dir, 'secret'),
      site: { name: 'unit3d', url: db.url, api_key: API_KEY },
      prehooks: [{ name: 'privtrak', options: { journal_dir: join(dir, 'journal'), flush_interval: '20ms' } }],
    }), pino({ level: 'silent' }), { defaultMetrics: false });
    try {
      await tracker.start();
      const port = tracker.port('http');
      const announce = (user: number, up: number, down: number) => get(port, `/announce/${pk(user)}?info_hash=${escapeBytes(TORRENT.approved.hash)}`
        + `&peer_id=${escapeBytes(PEER)}&port=6881&uploaded=${up}&downloaded=${down}&left=0`);
      await announce(USER.alice, 1600, 300); // Alice's client, running before the cut-over: its row is active
      await announce(USER.bob, 900, 0); // Bob's row was inactive (stopped): an unknown peer, 0
      await tracker.stop();
      const [rows] = await db.exec(['SELECT id, uploaded, downloaded FROM users WHERE id IN (1, 10) ORDER BY id']) as [Array<Record<string, unknown>>];
      assert.deepEqual(rows.map((r) => [r['id'], Number(r['uploaded']), Number(r['downloaded'])]), [[USER.alice, 600, 0], [USER.bob, 0, 0]]);
    } finally {
      await tracker.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
