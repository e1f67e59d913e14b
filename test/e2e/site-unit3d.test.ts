/**
 * A UNIT3D site served by privtrak (site: unit3d) with real clients: UNIT3D's tables, created
 * and filled as the site would, compared row by row with what UNIT3D-Announce would have
 * written for the same announces (site-models.ts), then again after kill -9 (site-scenario.ts).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { runSiteScenario, rowsOf, MAX_GAP_MS, SEEDER_ID, LEECHER_ID, TORRENT_ID, type SiteFixture, type SiteScenario } from './site-scenario.js';
import { unit3dExpectation, type ModelAnnounce } from './site-models.js';
import { mysqlExec } from '../support/mysql.js';
import { UNIT3D_DDL } from '../sites/unit3d/schema.js';

const API_KEY = 'unit3d-e2e-api-key-0123456789';

const unit3d: SiteScenario = {
  announcePath: (passkey) => `/announce/${passkey}`,
  async setup(f: SiteFixture) {
    await mysqlExec(f.dbUrl, [
      ...UNIT3D_DDL,
      // The seeder's group is immune to hit-and-runs; the leecher's is not.
      "INSERT INTO `groups` (id, name, slug, is_immune) VALUES (1, 'User', 'user', 0), (2, 'Uploader', 'uploader', 1)",
      [`INSERT INTO users (id, username, email, password, passkey, group_id, rsskey, created_at, updated_at)
        VALUES (?, 'seeder', 's@example.org', 'x', ?, 2, 'rss1', NOW(), NOW()), (?, 'leecher', 'l@example.org', 'x', ?, 1, 'rss2', NOW(), NOW())`,
      [SEEDER_ID, f.seederKey, LEECHER_ID, f.leecherKey]],
      [`INSERT INTO torrents (id, name, description, info_hash, file_name, num_file, size, user_id, status, created_at, updated_at)
        VALUES (?, 'payload', '', ?, 'payload.torrent', 1, ?, ?, 1, NOW(), NOW())`, [TORRENT_ID, f.infoHash, f.size, SEEDER_ID]],
    ]);
  },
  siteBlock: (f) => JSON.stringify({ name: 'unit3d', url: f.dbUrl, api_key: API_KEY }),
  async dump(f) {
    const parts = await Promise.all([
      rowsOf(f.dbUrl, 'SELECT id, uploaded, downloaded FROM users ORDER BY id'),
      rowsOf(f.dbUrl, 'SELECT * FROM history ORDER BY user_id, torrent_id'),
      rowsOf(f.dbUrl, 'SELECT * FROM peers ORDER BY user_id, torrent_id, peer_id'),
      rowsOf(f.dbUrl, 'SELECT id, seeders, leechers, times_completed, balance FROM torrents ORDER BY id'),
      rowsOf(f.dbUrl, 'SELECT * FROM unregistered_info_hashes ORDER BY info_hash, user_id'),
    ]);
    return JSON.stringify(parts);
  },
  async settled(f) {
    const [r] = await rowsOf(f.dbUrl, `SELECT COUNT(*) AS n, COALESCE(SUM(active), 0) AS a, (SELECT COUNT(*) FROM history) AS h FROM peers WHERE torrent_id = ${TORRENT_ID}`);
    return Number(r!['n']) >= 2 && Number(r!['a']) === 0 && Number(r!['h']) === 2;
  },
  async check(f, announces: ModelAnnounce[], t: TestContext) {
    const e = unit3dExpectation(announces, MAX_GAP_MS);
    const users = await rowsOf(f.dbUrl, 'SELECT id, uploaded, downloaded FROM users ORDER BY id');
    assert.deepEqual(users.map((u) => [u['id'], Number(u['uploaded']), Number(u['downloaded'])]),
      [SEEDER_ID, LEECHER_ID].map((id) => [id, e.users.get(id)?.uploaded ?? 0, e.users.get(id)?.downloaded ?? 0]), 'users.uploaded/downloaded');
    // The payload went from the seeder to the leecher: the model is not trivially zero.
    assert.ok(e.users.get(SEEDER_ID)!.uploaded >= f.size * 0.9, `seeder credited ${e.users.get(SEEDER_ID)!.uploaded} of ${f.size}`);
    assert.ok(e.users.get(LEECHER_ID)!.downloaded >= f.size, `leecher credited ${e.users.get(LEECHER_ID)!.downloaded} of ${f.size}`);

    const history = await rowsOf(f.dbUrl, 'SELECT * FROM history ORDER BY user_id, torrent_id');
    assert.equal(history.length, e.history.size, 'one history row per user and torrent');
    for (const h of history) {
      const want = e.history.get(`${h['user_id']}/${h['torrent_id']}`);
      assert.ok(want, `unexpected history row ${JSON.stringify(h)}`);
      assert.deepEqual({
        uploaded: Number(h['uploaded']), actualUploaded: Number(h['actual_uploaded']), clientUploaded: Number(h['client_uploaded']),
        downloaded: Number(h['downloaded']), actualDownloaded: Number(h['actual_downloaded']), clientDownloaded: Number(h['client_downloaded']),
        seeder: h['seeder'] === 1, active: h['active'] === 1, completed: h['completed_at'] !== null, agent: h['agent'],
      }, {
        uploaded: want.uploaded, actualUploaded: want.actualUploaded, clientUploaded: want.clientUploaded,
        downloaded: want.downloaded, actualDownloaded: want.actualDownloaded, clientDownloaded: want.clientDownloaded,
        seeder: want.seeder, active: want.active, completed: want.completed, agent: want.agent,
      }, `history of user ${h['user_id']}`);
      assert.equal(h['immune'], h['user_id'] === SEEDER_ID ? 1 : 0, 'immune from the group');
      // Exact seeding seconds; the proxy's clock is not privtrak's: a second per announce either way.
      const seedtime = Number(h['seedtime']);
      assert.ok(Math.abs(seedtime - want.seedtime) <= want.announces, `seedtime ${seedtime} vs ${want.seedtime} (±${want.announces})`);
    }

    const peers = await rowsOf(f.dbUrl, 'SELECT * FROM peers ORDER BY user_id, torrent_id, peer_id');
    assert.deepEqual(peers.map((p) => `${p['user_id']}/${p['torrent_id']}/${p['peer_id']}`).sort(), [...e.peers.keys()].sort(), 'one peers row per peer');
    for (const p of peers) {
      const want = e.peers.get(`${p['user_id']}/${p['torrent_id']}/${p['peer_id']}`)!;
      assert.deepEqual({
        ip: p['ip'], port: p['port'], agent: p['agent'], uploaded: Number(p['uploaded']), downloaded: Number(p['downloaded']), left: Number(p['left']),
        seeder: p['seeder'] === 1, active: p['active'] === 1, visible: p['visible'],
      }, {
        ip: '7f000001', port: want.port, agent: want.agent, uploaded: want.uploaded, downloaded: want.downloaded, left: want.left,
        seeder: want.seeder, active: want.active, visible: 1,
      }, `peers row of user ${p['user_id']}`);
    }

    const [tor] = await rowsOf(f.dbUrl, `SELECT seeders, leechers, times_completed, balance FROM torrents WHERE id = ${TORRENT_ID}`);
    const wt = e.torrents.get(TORRENT_ID)!;
    assert.deepEqual({ seeders: tor!['seeders'], leechers: tor!['leechers'], timesCompleted: tor!['times_completed'], balance: Number(tor!['balance']) },
      { seeders: wt.seeders, leechers: wt.leechers, timesCompleted: wt.timesCompleted, balance: wt.balance }, 'torrents counters');
    assert.equal(wt.timesCompleted, 1, 'the leecher completed once');
    t.diagnostic(`users ${JSON.stringify(users)}; torrent ${JSON.stringify(tor)}`);
  },
};

describe('UNIT3D site, real clients, tables row by row', { timeout: 400_000 }, () => {
  it('aria2 seeds, qBittorrent downloads', { timeout: 150_000 }, (t) => runSiteScenario(t, unit3d, 'aria2', 'qbittorrent'));
  it('qBittorrent seeds, aria2 downloads', { timeout: 150_000 }, (t) => runSiteScenario(t, unit3d, 'qbittorrent', 'aria2'));
});
