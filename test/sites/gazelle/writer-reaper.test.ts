/**
 * The Gazelle writer's start and its reaper, both layouts, real MariaDB: open() changes no site
 * row (Ocelot truncates xbt_files_users and zeroes the counters at start; privtrak must not), a
 * wrong layout is a SinkSchemaError naming the missing columns, and the reaper marks peer rows
 * silent past the peer lifetime inactive and recounts their torrents (what Ocelot never does).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SinkSchemaError, SinkUnreachableError } from '../../../src/sinks/sink-errors.js';
import { gazelleTestSite, gd, metricValue, peerIdOf, peerRow, type GazelleTestSite, withSite } from './writer-fixture.js';
import type { GazelleSchema } from './schema.js';


const HOUR_S = 3600;

/** A peer row as the site (or an earlier Ocelot) left it. */
async function insertPeer(site: GazelleTestSite, p: { uid: number; fid: number; n: number; active: 0 | 1; remaining: number; mtime: number }): Promise<Buffer> {
  const peerId = peerIdOf('-qB4520-', p.n);
  await site.conn.query(`INSERT INTO xbt_files_users (uid, fid, active, announced, remaining, uploaded, timespent, useragent, peer_id, mtime, ip, connectable)
    VALUES (?, ?, ?, 3, ?, 77, 500, 'qBittorrent/4.5.2', ?, ?, '10.1.1.1', 0)`, [p.uid, p.fid, p.active, p.remaining, peerId, p.mtime]);
  return peerId;
}

async function setCounts(site: GazelleTestSite, fid: number, seeders: number, leechers: number): Promise<void> {
  await site.conn.query(site.layout === 'ops'
    ? 'UPDATE torrents_leech_stats SET Seeders = ?, Leechers = ?, Snatched = 4, Balance = -3, last_action = NOW() WHERE TorrentID = ?'
    : 'UPDATE torrents SET Seeders = ?, Leechers = ?, Snatched = 4, Balance = -3, last_action = NOW() WHERE ID = ?', [seeders, leechers, fid]);
}

for (const layout of ['ops', 'whatcd'] as const) {
  describe(`gazelle writer, start and reaper (${layout})`, () => {
    it('open() changes no site row and creates only its mark table', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2]);
        await site.addTorrents([10, 11]);
        await site.conn.query("INSERT INTO users_freeleeches (UserID, TorrentID, Time, Downloaded) VALUES (1, 10, '2024-01-01 00:00:00', 12)");
        await site.conn.query("INSERT INTO xbt_snatched (uid, fid, tstamp, IP) VALUES (1, 10, 1600000000, '10.0.0.1')");
        await site.conn.query(layout === 'ops' ? 'UPDATE users_leech_stats SET Uploaded = 5, Downloaded = 6' : 'UPDATE users_main SET Uploaded = 5, Downloaded = 6');
        // Stale and fresh, active and inactive rows, counters that disagree with them: all left as they are.
        const now = Math.floor(Date.now() / 1000);
        await insertPeer(site, { uid: 1, fid: 10, n: 1, active: 1, remaining: 0, mtime: now - 5 * HOUR_S });
        await insertPeer(site, { uid: 2, fid: 10, n: 2, active: 0, remaining: 9, mtime: now });
        await setCounts(site, 10, 5, 3);
        const tablesBefore = await site.rows('SHOW TABLES');
        const before = await site.dump();
        const w = await site.writer({ reap_interval: '1h' });
        assert.equal(await site.dump(), before);
        const tablesAfter = (await site.rows('SHOW TABLES')).map((r) => Object.values(r)[0]).sort();
        assert.deepEqual(tablesAfter, [...tablesBefore.map((r) => Object.values(r)[0]), 'privtrak_site_applied'].sort());
        await w.close();
        // A second start finds the mark table there and still changes nothing.
        await site.writer({ reap_interval: '1h' });
        assert.equal(await site.dump(), before);
      });
    });

    it('a database of the other layout is a SinkSchemaError naming the missing columns', async (t) => {
      await withSite(t, layout, async (site) => {
        const other = layout === 'ops' ? 'whatcd' : 'ops';
        await assert.rejects(site.writer({ schema: other }), (err: unknown) => {
          assert.ok(err instanceof SinkSchemaError);
          assert.match(err.message, other === 'whatcd' ? /users_main\.Uploaded.*torrents\.Seeders/ : /users_leech_stats\.UserID.*torrents_leech_stats\.TorrentID/);
          return true;
        });
      });
    });

    it('a server that refuses the connection is a SinkUnreachableError (the password masked)', async (t) => {
      await withSite(t, layout, async (site) => {
        await assert.rejects(site.writer({ url: 'mysql://root:hunter2@127.0.0.1:1/site' }), (err: unknown) => {
          assert.ok(err instanceof SinkUnreachableError);
          assert.doesNotMatch(err.message, /hunter2/);
          return true;
        });
      });
    });

    it('the reaper marks peers silent past the peer lifetime inactive and recounts their torrents', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2, 3, 4]);
        await site.addTorrents([10, 11]);
        const nowMs = Date.now();
        const now = Math.floor(nowMs / 1000);
        // peer lifetime 1 h (the fixture's deps): stale = mtime more than an hour ago.
        const staleSeeder = await insertPeer(site, { uid: 1, fid: 10, n: 1, active: 1, remaining: 0, mtime: now - 2 * HOUR_S });
        const freshLeecher = await insertPeer(site, { uid: 2, fid: 10, n: 2, active: 1, remaining: 50, mtime: now - 60 });
        const staleLeecher = await insertPeer(site, { uid: 3, fid: 11, n: 3, active: 1, remaining: 50, mtime: now - 3 * HOUR_S });
        const oldInactive = await insertPeer(site, { uid: 4, fid: 11, n: 4, active: 0, remaining: 0, mtime: now - 9 * HOUR_S });
        // A row of a torrent the site deleted (no torrents row): reaped without failing the round.
        await insertPeer(site, { uid: 4, fid: 12, n: 5, active: 1, remaining: 0, mtime: now - 2 * HOUR_S });
        await setCounts(site, 10, 7, 7);
        await setCounts(site, 11, 7, 7);
        const w = await site.writer();
        assert.equal(await w.reapNow(nowMs), 3);
        assert.equal((await peerRow(site, staleSeeder, 10, 1))?.['active'], 0);
        assert.equal((await peerRow(site, freshLeecher, 10, 2))?.['active'], 1);
        assert.equal((await peerRow(site, staleLeecher, 11, 3))?.['active'], 0);
        const inactive = await peerRow(site, oldInactive, 11, 4);
        assert.equal(inactive?.['active'], 0);
        assert.equal(inactive?.['mtime'], now - 9 * HOUR_S, 'an inactive row is not touched');
        // The rest of a reaped row is kept (mtime, counters, connectable).
        const reaped = await peerRow(site, staleSeeder, 10, 1);
        assert.deepEqual([reaped?.['mtime'], String(reaped?.['uploaded']), reaped?.['timespent'], reaped?.['connectable']], [now - 2 * HOUR_S, '77', 500, 0]);
        const t10 = await site.torrentStats(10);
        const t11 = await site.torrentStats(11);
        assert.deepEqual([t10?.seeders, t10?.leechers, t10?.snatched, t10?.balance], [0, 1, 4, -3n]);
        assert.deepEqual([t11?.seeders, t11?.leechers], [0, 0]);
        assert.equal(await w.reapNow(nowMs), 0, 'nothing left to reap');
        assert.equal(await metricValue(site, 'privtrak_site_gazelle_reaped_peers_total'), 3);

        // A reaped peer that announces again is active again.
        await w.apply({ id: 1, instance: 'a', deltas: [gd(1, 1, 10, { peerId: staleSeeder, left: 0, timeMs: nowMs })] });
        assert.equal((await peerRow(site, staleSeeder, 10, 1))?.['active'], 1);
        assert.equal((await site.torrentStats(10))?.seeders, 1);
      });
    });

    it('the reaper runs by itself every reap_interval, and stops at close()', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1]);
        await site.addTorrents([10]);
        const now = Math.floor(Date.now() / 1000);
        const stale = await insertPeer(site, { uid: 1, fid: 10, n: 1, active: 1, remaining: 0, mtime: now - 2 * HOUR_S });
        const w = await site.writer({ reap_interval: '50ms' });
        let active: unknown = 1;
        for (let i = 0; i < 200 && active !== 0; i++) {
          await sleep(25);
          active = (await peerRow(site, stale, 10, 1))?.['active'];
        }
        assert.equal(active, 0, 'reaped within 5 s');
        await w.close();
        await site.conn.query('UPDATE xbt_files_users SET active = 1');
        await sleep(200);
        assert.equal((await peerRow(site, stale, 10, 1))?.['active'], 1, 'no reaping after close()');
      });
    });
  });
}
