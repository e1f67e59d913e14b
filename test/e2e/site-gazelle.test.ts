/**
 * A Gazelle site served by privtrak (site: gazelle, OPS tables) with real clients: Gazelle's
 * tables, created and filled as the site would, compared row by row with what Ocelot would have
 * written for the same announces (site-models.ts), then again after kill -9 (site-scenario.ts).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { runSiteScenario, rowsOf, MAX_GAP_MS, SEEDER_ID, LEECHER_ID, TORRENT_ID, type SiteFixture, type SiteScenario } from './site-scenario.js';
import { gazelleExpectation, type ModelAnnounce } from './site-models.js';
import { mysqlExec } from '../support/mysql.js';
import { gazelleDdl } from '../sites/gazelle/schema.js';

const SECRET = 'gazelle-e2e-secret-0123456789ab';

const gazelle: SiteScenario = {
  announcePath: (passkey) => `/${passkey}/announce`,
  async setup(f: SiteFixture) {
    await mysqlExec(f.dbUrl, [
      ...gazelleDdl('ops'),
      [`INSERT INTO users_main (ID, Username, Enabled, Visible, torrent_pass, can_leech) VALUES (?, 'seeder', '1', '1', ?, 1), (?, 'leecher', '1', '1', ?, 1)`,
        [SEEDER_ID, f.seederKey, LEECHER_ID, f.leecherKey]],
      [`INSERT INTO users_leech_stats (UserID) VALUES (?), (?)`, [SEEDER_ID, LEECHER_ID]],
      [`INSERT INTO torrents (ID, GroupID, UserID, info_hash, FreeTorrent, Size, Time) VALUES (?, 1, ?, ?, '0', ?, NOW())`, [TORRENT_ID, SEEDER_ID, f.infoHash, f.size]],
      [`INSERT INTO torrents_leech_stats (TorrentID) VALUES (?)`, [TORRENT_ID]],
    ]);
  },
  siteBlock: (f) => JSON.stringify({ name: 'gazelle', url: f.dbUrl, secret: SECRET }),
  async dump(f) {
    return JSON.stringify(await Promise.all([
      rowsOf(f.dbUrl, 'SELECT * FROM users_leech_stats ORDER BY UserID'),
      rowsOf(f.dbUrl, 'SELECT * FROM torrents_leech_stats ORDER BY TorrentID'),
      rowsOf(f.dbUrl, 'SELECT * FROM xbt_files_users ORDER BY peer_id, fid, uid'),
      rowsOf(f.dbUrl, 'SELECT * FROM xbt_snatched ORDER BY uid, fid, tstamp'),
      rowsOf(f.dbUrl, 'SELECT * FROM users_freeleeches ORDER BY UserID, TorrentID'),
    ]));
  },
  async settled(f) {
    const [r] = await rowsOf(f.dbUrl, `SELECT COUNT(*) AS n, COALESCE(SUM(active), 0) AS a FROM xbt_files_users WHERE fid = ${TORRENT_ID}`);
    return Number(r!['n']) >= 2 && Number(r!['a']) === 0;
  },
  async check(f, announces: ModelAnnounce[], t: TestContext) {
    const e = gazelleExpectation(announces, MAX_GAP_MS);
    const users = await rowsOf(f.dbUrl, 'SELECT UserID, Uploaded, Downloaded FROM users_leech_stats ORDER BY UserID');
    assert.deepEqual(users.map((u) => [u['UserID'], Number(u['Uploaded']), Number(u['Downloaded'])]),
      [SEEDER_ID, LEECHER_ID].map((id) => [id, e.users.get(id)?.uploaded ?? 0, e.users.get(id)?.downloaded ?? 0]), 'users_leech_stats');
    assert.ok(e.users.get(SEEDER_ID)!.uploaded >= f.size * 0.9, `seeder credited ${e.users.get(SEEDER_ID)!.uploaded} of ${f.size}`);
    assert.ok(e.users.get(LEECHER_ID)!.downloaded >= f.size, `leecher credited ${e.users.get(LEECHER_ID)!.downloaded} of ${f.size}`);

    const files = await rowsOf(f.dbUrl, 'SELECT * FROM xbt_files_users ORDER BY peer_id, fid, uid');
    assert.deepEqual(files.map((r) => `${r['peer_id']}/${r['fid']}/${r['uid']}`).sort(), [...e.files.keys()].sort(), 'one xbt_files_users row per peer');
    for (const r of files) {
      const want = e.files.get(`${r['peer_id']}/${r['fid']}/${r['uid']}`)!;
      assert.deepEqual({
        active: r['active'] === 1, uploaded: Number(r['uploaded']), downloaded: Number(r['downloaded']), remaining: Number(r['remaining']),
        announced: r['announced'], useragent: r['useragent'], ip: r['ip'], completed: r['completed'] === 1,
      }, {
        active: want.active, uploaded: want.uploaded, downloaded: want.downloaded, remaining: want.remaining,
        announced: want.announced, useragent: want.useragent, ip: want.ip, completed: want.completed,
      }, `xbt_files_users of user ${r['uid']}`);
      const timespent = Number(r['timespent']);
      assert.ok(Math.abs(timespent - want.timespent) <= want.announced, `timespent ${timespent} vs ${want.timespent} (±${want.announced})`);
    }

    const [tor] = await rowsOf(f.dbUrl, `SELECT Seeders, Leechers, Snatched, Balance FROM torrents_leech_stats WHERE TorrentID = ${TORRENT_ID}`);
    const wt = e.torrents.get(TORRENT_ID)!;
    assert.deepEqual({ seeders: tor!['Seeders'], leechers: tor!['Leechers'], snatched: tor!['Snatched'], balance: Number(tor!['Balance']) },
      { seeders: wt.seeders, leechers: wt.leechers, snatched: wt.snatched, balance: wt.balance }, 'torrents_leech_stats');
    assert.equal(wt.snatched, 1, 'the leecher snatched once');
    const snatches = await rowsOf(f.dbUrl, 'SELECT uid, fid, IP FROM xbt_snatched ORDER BY uid, fid, tstamp');
    assert.deepEqual(snatches.map((s) => ({ uid: s['uid'], fid: s['fid'], ip: s['IP'] })), e.snatches, 'xbt_snatched');
    assert.deepEqual(await rowsOf(f.dbUrl, 'SELECT * FROM users_freeleeches'), [], 'no token, no users_freeleeches row');
    t.diagnostic(`users ${JSON.stringify(users)}; torrent ${JSON.stringify(tor)}`);
  },
};

describe('Gazelle site, real clients, tables row by row', { timeout: 400_000 }, () => {
  it('aria2 seeds, qBittorrent downloads', { timeout: 150_000 }, (t) => runSiteScenario(t, gazelle, 'aria2', 'qbittorrent'));
  it('qBittorrent seeds, aria2 downloads', { timeout: 150_000 }, (t) => runSiteScenario(t, gazelle, 'qbittorrent', 'aria2'));
});
