/**
 * The Gazelle writer against the real MariaDB, both table layouts: what lands in the site's tables
 * after hand-built batches, with the expectations written from Ocelot's semantics
 * (../shared/sites/README.md B.2, B.4) and the writer's spec — credited totals, xbt_files_users,
 * absolute Seeders/Leechers, Snatched and xbt_snatched once per snatch, Balance, token usage,
 * protected users' and IPv6 peers' IPs — not from the writer's own output.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashedPasskeyKey } from '../../../src/accounting/user-key.js';
import { T0, gazelleTestSite, gd, metricValue, peerIdOf, peerRow, type GazelleTestSite, withSite } from './writer-fixture.js';
import type { GazelleSchema } from './schema.js';

const S = (ms: number) => Math.floor(ms / 1000);


for (const layout of ['ops', 'whatcd'] as const) {
  describe(`gazelle writer (${layout})`, () => {
    it('a leecher that completes and stops, beside a seeder: peer rows, credited totals, Seeders/Leechers, Snatched, Balance', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2, 3]);
        await site.addTorrents([10]);
        const w = await site.writer();
        const p1 = peerIdOf('-qB4520-', 1);
        const p2 = peerIdOf('-TR3000-', 2);
        // The rules hook recorded user 1's User-Agent; user 2's is unknown (named from its peer_id).
        site.extras.set(gd(0, 1, 10).user, gd(0, 1, 10).infoHash, p1, 'qBittorrent/4.5.2', true, T0);
        await w.apply({ id: 4, instance: 'a', deltas: [
          gd(1, 1, 10, { peerId: p1, event: 'started', left: 1000, timeMs: T0 }),
          gd(2, 1, 10, { peerId: p1, uploaded: 100, downloaded: 400, left: 600, deltaUp: 100, deltaDown: 400, creditUp: 100, creditDown: 400,
            leechTime: 100, timeMs: T0 + 100_000 }),
          gd(3, 1, 10, { peerId: p1, event: 'completed', uploaded: 300, downloaded: 1000, left: 0, deltaUp: 200, deltaDown: 600, creditUp: 200,
            creditDown: 600, leechTime: 50, snatch: true, timeMs: T0 + 150_000 }),
          gd(4, 2, 10, { peerId: p2, event: 'started', ip: '10.0.0.2', left: 0, timeMs: T0 + 10_000 }),
        ] });
        assert.deepEqual(await site.userStats(1), { up: 300n, down: 1000n });
        assert.deepEqual(await site.userStats(2), { up: 0n, down: 0n });
        const r1 = await peerRow(site, p1, 10, 1);
        assert.ok(r1);
        assert.deepEqual({
          active: r1['active'], announced: r1['announced'], completed: r1['completed'], uploaded: String(r1['uploaded']),
          downloaded: String(r1['downloaded']), remaining: String(r1['remaining']), upspeed: r1['upspeed'], downspeed: r1['downspeed'],
          corrupt: String(r1['corrupt']), timespent: r1['timespent'], useragent: r1['useragent'], mtime: r1['mtime'], ip: r1['ip'],
          connectable: r1['connectable'],
        }, {
          // upspeed/downspeed: the last announce's bytes over its 50 s (200/50, 600/50).
          active: 1, announced: 3, completed: 1, uploaded: '300', downloaded: '1000', remaining: '0', upspeed: 4, downspeed: 12,
          corrupt: '0', timespent: 150, useragent: 'qBittorrent/4.5.2', mtime: S(T0 + 150_000), ip: '10.0.0.1', connectable: 1,
        });
        const r2 = await peerRow(site, p2, 10, 2);
        assert.equal(r2?.['useragent'], 'Transmission 3.0.0.0');
        assert.equal(r2?.['ip'], '10.0.0.2');
        assert.equal(r2?.['announced'], 1);
        assert.equal(r2?.['completed'], 0);
        let ts = await site.torrentStats(10);
        assert.equal(ts?.seeders, 2);
        assert.equal(ts?.leechers, 0);
        assert.equal(ts?.snatched, 1);
        assert.equal(ts?.balance, 300n - 1000n);
        assert.ok(ts?.lastAction instanceof Date, 'last_action set while the torrent has a seeder');
        assert.deepEqual(await site.rows('SELECT uid, fid, tstamp, IP FROM xbt_snatched'), [{ uid: 1, fid: 10, tstamp: S(T0 + 150_000), IP: '10.0.0.1' }]);

        // User 1 stops (its peer removed: baseline null); user 3 starts leeching.
        await w.apply({ id: 6, instance: 'a', deltas: [
          gd(5, 1, 10, { peerId: p1, event: 'stopped', uploaded: 350, downloaded: 1000, left: 0, deltaUp: 50, creditUp: 50, seedTime: 10,
            timeMs: T0 + 160_000, baseline: null }),
          gd(6, 3, 10, { peerId: peerIdOf('-TR3000-', 3), event: 'started', left: 500, timeMs: T0 + 160_000 }),
        ] });
        const r1b = await peerRow(site, p1, 10, 1);
        assert.equal(r1b?.['active'], 0);
        assert.equal(r1b?.['announced'], 4);
        assert.equal(r1b?.['completed'], 1, 'completed stays 1');
        assert.equal(r1b?.['timespent'], 160);
        assert.equal(r1b?.['upspeed'], 5);
        assert.equal(String(r1b?.['uploaded']), '350');
        assert.deepEqual(await site.userStats(1), { up: 350n, down: 1000n });
        ts = await site.torrentStats(10);
        assert.equal(ts?.seeders, 1);
        assert.equal(ts?.leechers, 1);
        assert.equal(ts?.snatched, 1, 'no new snatch');
        assert.equal(ts?.balance, -700n + 50n);
        assert.equal((await site.rows('SELECT * FROM xbt_snatched')).length, 1);
        assert.equal(await w.load('a').then((s) => s.appliedThrough), 6);
      });
    });

    it('a torrent whose last seeder stops keeps its last_action; one that never had a seeder has none', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2]);
        await site.addTorrents([20, 21]);
        await site.conn.query(layout === 'ops'
          ? "UPDATE torrents_leech_stats SET last_action = '2020-01-02 03:04:05' WHERE TorrentID = 20"
          : "UPDATE torrents SET last_action = '2020-01-02 03:04:05' WHERE ID = 20");
        const w = await site.writer();
        await w.apply({ id: 2, instance: 'a', deltas: [
          gd(1, 1, 20, { event: 'stopped', baseline: null }),
          gd(2, 2, 21, { event: 'started', left: 10 }),
        ] });
        const a = await site.torrentStats(20);
        assert.equal(a?.seeders, 0);
        assert.equal(a?.lastAction?.getFullYear(), 2020);
        const b = await site.torrentStats(21);
        assert.equal(b?.leechers, 1);
        assert.equal(b?.lastAction, null);
      });
    });

    it('OPS creates a missing users_leech_stats / torrents_leech_stats row; WhatCD credits users_main', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([7], false);
        await site.addTorrents([70], false);
        const w = await site.writer();
        await w.apply({ id: 1, instance: 'a', deltas: [gd(1, 7, 70, { deltaUp: 9, creditUp: 18, deltaDown: 4, creditDown: 4, left: 5 })] });
        assert.deepEqual(await site.userStats(7), { up: 18n, down: 4n });
        const ts = await site.torrentStats(70);
        assert.equal(ts?.leechers, 1);
        assert.equal(ts?.balance, 5n);
      });
    });

    it("credits come from the delta (neutral, free, token); a token holder's raw download goes to users_freeleeches.Downloaded", async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2, 3]);
        await site.addTorrents([30, 31]);
        await site.conn.query("INSERT INTO users_freeleeches (UserID, TorrentID, Time, Downloaded) VALUES (1, 30, NOW(), 5), (2, 31, NOW(), 0)");
        site.facts.tokens.add('1/30');
        site.facts.tokens.add('3/30'); // the facts say so, but the site has no row (removed meanwhile): nothing is created
        const w = await site.writer();
        await w.apply({ id: 5, instance: 'a', deltas: [
          // user 1 holds a token on 30: download not credited (the rules hook set creditDown 0), counted on the token.
          gd(1, 1, 30, { deltaUp: 10, creditUp: 10, deltaDown: 700, creditDown: 0, left: 1 }),
          gd(2, 1, 30, { deltaDown: 300, creditDown: 0, left: 1 }),
          // user 2: a token row on 31 but the facts say no token now: untouched.
          gd(3, 2, 31, { deltaDown: 50, creditDown: 50, left: 1 }),
          // neutral: nothing credited at all.
          gd(4, 2, 30, { deltaUp: 40, deltaDown: 40, left: 1, peerId: peerIdOf('-DE1000-', 2) }),
          gd(5, 3, 30, { deltaDown: 8, creditDown: 0, left: 1 }),
        ] });
        assert.deepEqual(await site.userStats(1), { up: 10n, down: 0n });
        assert.deepEqual(await site.userStats(2), { up: 0n, down: 50n });
        assert.deepEqual(await site.userStats(3), { up: 0n, down: 0n });
        assert.deepEqual(await site.rows('SELECT UserID, TorrentID, Downloaded FROM users_freeleeches ORDER BY UserID, TorrentID'), [
          { UserID: 1, TorrentID: 30, Downloaded: '1005' }, { UserID: 2, TorrentID: 31, Downloaded: '0' },
        ]);
        // Balance is raw bytes whatever the credit: 30 got 10 + 40 up, 700 + 300 + 40 + 8 down.
        assert.equal((await site.torrentStats(30))?.balance, 50n - 1048n);
      });
    });

    it("a protected user's and an IPv6 peer's IP is written as ''; an IPv4-mapped address as IPv4; agents are cut to 51 printable characters", async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2, 3]);
        await site.addTorrents([40]);
        site.facts.protectedUsers.add(1);
        const long = 'Agent/' + 'x'.repeat(60);
        const p3 = peerIdOf('-qB4520-', 3);
        site.extras.set(gd(0, 3, 40).user, gd(0, 3, 40).infoHash, p3, 'Cliént/1.0\u2603', true, T0);
        site.extras.set(gd(0, 2, 40).user, gd(0, 2, 40).infoHash, peerIdOf('-TR3000-', 2), long, true, T0);
        const w = await site.writer();
        await w.apply({ id: 4, instance: 'a', deltas: [
          gd(1, 1, 40, { ip: '192.0.2.7', event: 'completed', snatch: true, timeMs: T0 + 1000 }),
          gd(2, 2, 40, { ip: '2001:db8::1', event: 'completed', snatch: true, timeMs: T0 + 2000 }),
          gd(3, 3, 40, { ip: '::ffff:198.51.100.9', peerId: p3, timeMs: T0 + 3000 }),
          gd(4, 3, 40, { ip: '::ffff:198.51.100.9', peerId: peerIdOf('XXXXXXXX', 3), timeMs: T0 + 3000 }),
        ] });
        const ips = await site.rows('SELECT uid, ip, useragent FROM xbt_files_users ORDER BY uid, useragent');
        assert.deepEqual(ips, [
          { uid: 1, ip: '', useragent: 'Transmission 3.0.0.0' },
          { uid: 2, ip: '', useragent: long.slice(0, 51) },
          { uid: 3, ip: '198.51.100.9', useragent: '' }, // an unknown client and no header: ''
          { uid: 3, ip: '198.51.100.9', useragent: 'Cli?nt/1.0?' },
        ]);
        assert.deepEqual(await site.rows('SELECT uid, fid, tstamp, IP FROM xbt_snatched ORDER BY uid'), [
          { uid: 1, fid: 40, tstamp: S(T0 + 1000), IP: '' }, { uid: 2, fid: 40, tstamp: S(T0 + 2000), IP: '' },
        ]);
        assert.equal((await site.torrentStats(40))?.snatched, 2);
      });
    });

    it('every snatch is one xbt_snatched row and one Snatched, also two by one user in one batch', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1]);
        await site.addTorrents([50]);
        const w = await site.writer();
        await w.apply({ id: 2, instance: 'a', deltas: [
          gd(1, 1, 50, { snatch: true, event: 'completed', timeMs: T0 }),
          gd(2, 1, 50, { snatch: true, event: 'completed', peerId: peerIdOf('-qB4520-', 9), timeMs: T0 + 5000 }),
        ] });
        assert.equal((await site.torrentStats(50))?.snatched, 2);
        assert.equal((await site.rows('SELECT * FROM xbt_snatched')).length, 2);
      });
    });

    it('keys that are no site user, deleted users, deltas without a torrent and deleted torrents: dropped and counted, the batch commits', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2]);
        await site.addTorrents([60]);
        const w = await site.writer();
        await w.apply({ id: 5, instance: 'a', deltas: [
          gd(1, 1, 60, { user: hashedPasskeyKey(Buffer.alloc(32, 1), 'a'.repeat(32)), creditUp: 1000, left: 1 }),
          gd(2, 99, 60, { creditUp: 1000, left: 1 }), // user 99 was deleted
          gd(3, 1, null, { creditUp: 5, creditDown: 6 }), // no site torrent: the credit still counts
          gd(4, 2, 61, { creditUp: 7, deltaUp: 7, snatch: true, left: 0 }), // torrent 61 deleted: the credit counts, its rows do not
          gd(5, 2, 60, { left: 0 }),
        ] });
        assert.deepEqual(await site.userStats(1), { up: 5n, down: 6n });
        assert.deepEqual(await site.userStats(2), { up: 7n, down: 0n });
        assert.deepEqual(await site.rows('SELECT uid, fid FROM xbt_files_users'), [{ uid: 2, fid: 60 }]);
        assert.equal((await site.rows('SELECT * FROM xbt_snatched')).length, 0);
        assert.equal((await site.torrentStats(60))?.seeders, 1);
        assert.equal(await site.torrentStats(61), undefined);
        assert.equal((await w.load('a')).appliedThrough, 5);
        for (const reason of ['not_site_user', 'deleted_user', 'no_torrent', 'deleted_torrent']) {
          assert.equal(await metricValue(site, 'privtrak_site_gazelle_deltas_dropped_total', { reason }), 1, reason);
        }
        assert.equal(await metricValue(site, 'privtrak_site_gazelle_rows_written_total', { table: 'xbt_files_users' }), 1);
      });
    });

    it('totals read the site tables back for `privtrak stats`', async (t) => {
      await withSite(t, layout, async (site) => {
        await site.addUsers([1, 2]);
        await site.addTorrents([80]);
        const w = await site.writer();
        await w.apply({ id: 2, instance: 'a', deltas: [
          gd(1, 1, 80, { uploaded: 500, downloaded: 20, deltaUp: 500, creditUp: 1000, deltaDown: 20, creditDown: 20, seedTime: 30, snatch: true }),
          gd(2, 2, 80, { uploaded: 3, creditDown: 4, left: 9, leechTime: 12 }),
        ] });
        const users = await w.totals({ byTorrent: false });
        assert.deepEqual(users.map((r) => [r.uploaded, r.downloaded, r.rawUploaded, r.rawDownloaded, r.seedTime, r.leechTime, r.snatched]), [
          [1000n, 20n, 500n, 20n, 30n, 0n, 1n],
          [0n, 4n, 3n, 0n, 0n, 12n, 0n],
        ]);
        const one = await w.totals({ byTorrent: true, user: gd(0, 2, 80).user });
        assert.equal(one.length, 1);
        assert.equal(one[0]?.siteTorrentId, 80n);
        assert.deepEqual(one[0]?.infoHash, gd(0, 2, 80).infoHash);
        assert.deepEqual(await w.totals({ byTorrent: false, user: hashedPasskeyKey(Buffer.alloc(32), 'b'.repeat(32)) }), []);
      });
    });
  });
}
