/**
 * The start-up load (../shared/sites/README.md A.4) against UNIT3D's tables in a fresh MariaDB
 * database: users without deleted ones, torrents de-duplicated per info_hash (undeleted and
 * approved first, then undeleted, then deleted; the lowest id among equals), the factors as
 * percentages, groups, blacklisted prefixes, tokens, personal freeleech, featured torrents and
 * the active peers; and a failed load names the table and never the password.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadUnit3dSnapshot, SiteLoadError } from '../../../src/sites/unit3d/loader.js';
import { Unit3dState, type Unit3dSnapshot } from '../../../src/sites/unit3d/state.js';
import { ih, pk, siteDb, startSite, torrentRow, userRow, type SiteDb } from './support.js';

describe('site unit3d: loading the state', () => {
  let db: SiteDb | undefined;
  let snap: Unit3dSnapshot;

  before(async (t) => {
    db = await siteDb(t as never);
    if (db === undefined) return;
    await db.exec([
      `INSERT INTO \`groups\` (id, name, slug, download_slots, is_immune, is_freeleech, is_double_upload) VALUES
        (1, 'User', 'user', NULL, 0, 0, 0), (2, 'VIP', 'vip', 2, 1, 1, 1)`,
      userRow(1, 1), userRow(2, 2, { canDownload: false, donor: true }), userRow(3, 1, { deleted: true }), userRow(4, 1, { lifetime: true }),
      // Inserted out of order, so that neither insertion order nor id order alone gives the answer.
      torrentRow(11, ih(0xa1), { status: 0 }), torrentRow(10, ih(0xa1), { deleted: true }), torrentRow(12, ih(0xa1)),
      torrentRow(22, ih(0xb1), { deleted: true }), torrentRow(21, ih(0xb1), { status: 0 }), torrentRow(20, ih(0xb1), { status: 2 }),
      torrentRow(31, ih(0xc1), { deleted: true }), torrentRow(30, ih(0xc1), { deleted: true, status: 0 }),
      torrentRow(42, ih(0xd1)), torrentRow(40, ih(0xd1), { deleted: true }), torrentRow(41, ih(0xd1)),
      torrentRow(50, ih(0xe1), { free: 25, times: 9 }), torrentRow(51, ih(0xe2), { free: 100, doubleup: true }), torrentRow(52, ih(0xe3), { free: 150 }),
      "INSERT INTO blacklist_clients (name, peer_id_prefix) VALUES ('Old Transmission', '-TR1'), ('XunLei', '-XL')",
      'INSERT INTO freeleech_tokens (user_id, torrent_id) VALUES (1, 12), (2, 50)',
      'INSERT INTO personal_freeleeches (user_id) VALUES (4)',
      'INSERT INTO featured_torrents (user_id, torrent_id) VALUES (1, 51)',
      // Two active peers of user 1 (a visible leecher, a seeder), one invisible leecher of user 2, one inactive.
      ['INSERT INTO peers (peer_id, ip, port, agent, uploaded, downloaded, `left`, seeder, created_at, updated_at, torrent_id, user_id, connectable, active, visible) VALUES '
        + '(?, INET6_ATON(\'192.0.2.1\'), 6881, \'qB\', 5, 6, 100, 0, NOW(), NOW(), 12, 1, 1, 1, 1), '
        + '(?, INET6_ATON(\'2001:db8::1\'), 6882, \'qB\', 0, 0, 0, 1, NOW(), NOW(), 50, 1, 1, 1, 1), '
        + '(?, INET6_ATON(\'192.0.2.2\'), 6883, \'TR\', 0, 0, 50, 0, NOW(), NOW(), 12, 2, 0, 1, 0), '
        + '(?, INET6_ATON(\'192.0.2.3\'), 6884, \'TR\', 0, 0, 50, 0, NOW(), NOW(), 50, 4, 0, 0, 1)',
      [Buffer.from('-qB4520-loadpeer0001'), Buffer.from('-qB4520-loadpeer0002'), Buffer.from('-TR3000-loadpeer0003'), Buffer.from('-TR3000-loadpeer0004')]],
    ]);
    snap = await loadUnit3dSnapshot(db.url, 5000);
  });
  after(async () => {
    await db?.drop();
  });

  it('loads users that are not deleted, with their group, passkey and flags', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const users = snap.users.map((u) => [u.id, u.groupId, u.passkey, u.canDownload, u.isDonor, u.isLifetime]).sort();
    assert.deepEqual(users, [[1, 1, pk(1), true, false, false], [2, 2, pk(2), false, true, false], [4, 1, pk(4), true, false, true]]);
  });

  it('keeps one torrent per info_hash: undeleted and approved, then undeleted, then deleted; lowest id among equals', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const byHash = new Map(snap.torrents.map((x) => [x.infoHash.toString('hex'), x]));
    assert.equal(snap.torrents.length, 7);
    assert.equal(byHash.get(ih(0xa1).toString('hex'))!.id, 12);
    assert.equal(byHash.get(ih(0xb1).toString('hex'))!.id, 20);
    assert.equal(byHash.get(ih(0xc1).toString('hex'))!.id, 30);
    assert.equal(byHash.get(ih(0xd1).toString('hex'))!.id, 41);
    assert.equal(byHash.get(ih(0xc1).toString('hex'))!.isDeleted, true);
    assert.equal(byHash.get(ih(0xb1).toString('hex'))!.status, 2);
  });

  it('turns free and doubleup into percent factors: 100 - LEAST(free, 100), doubleup ? 200 : 100', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const f = (id: number) => {
      const x = snap.torrents.find((y) => y.id === id)!;
      return [x.downloadFactor, x.uploadFactor, x.timesCompleted];
    };
    assert.deepEqual([f(12), f(50), f(51), f(52)], [[100, 100, 0], [75, 100, 9], [0, 200, 0], [0, 100, 0]]);
  });

  it('loads groups, blacklisted prefixes, tokens, personal freeleech, featured torrents and active peers', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    assert.deepEqual(snap.groups.map((g) => [g.id, g.slug, g.downloadSlots, g.isImmune, g.downloadFactor, g.uploadFactor]).sort(),
      [[1, 'user', null, false, 100, 100], [2, 'vip', 2, true, 0, 200]]);
    assert.deepEqual(snap.blacklistedPrefixes.map((b) => b.toString('latin1')).sort(), ['-TR1', '-XL']);
    assert.deepEqual(snap.freeleechTokens.map((x) => [x.userId, x.torrentId]).sort(), [[1, 12], [2, 50]]);
    assert.deepEqual(snap.personalFreeleech, [4]);
    assert.deepEqual(snap.featured, [51]);
    assert.deepEqual(snap.peers.map((p) => [p.userId, p.torrentId, p.peerId.toString(), p.ip, p.port, p.seeder, p.visible]).sort(), [
      [1, 12, '-qB4520-loadpeer0001', '192.0.2.1', 6881, false, true],
      [1, 50, '-qB4520-loadpeer0002', '2001:db8::1', 6882, true, true],
      [2, 12, '-TR3000-loadpeer0003', '192.0.2.2', 6883, false, false],
    ]);
  });

  it('the state built from it answers the rules\' questions: counts, tokens, blacklist, immunity', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    const state = new Unit3dState({ donorImmunityOverride: false, lifetimeDonorImmunityOverride: true }, 31 * 60_000);
    state.replace(snap, false, Date.now());
    assert.equal(state.userByPasskey(pk(1))!.id, 1);
    assert.equal(state.userByPasskey(pk(3)), undefined, 'deleted');
    assert.equal(state.torrentByHash(ih(0xa1))!.id, 12);
    // Counts follow the loaded active peers: user 1 seeds one and leeches one (visible); user 2's leech is invisible.
    const u1 = state.usersById.get(1)!;
    const u2 = state.usersById.get(2)!;
    assert.deepEqual([u1.numSeeding, u1.numLeeching, u2.numSeeding, u2.numLeeching], [1, 1, 0, 0]);
    const t12 = state.torrentsById.get(12)!;
    assert.deepEqual([t12.seeders, t12.leechers], [0, 2]);
    assert.equal(state.hasToken(1, 12), true);
    assert.equal(state.hasToken(1, 50), false);
    assert.equal(state.isBlacklisted(Buffer.from('-TR1000-000000000000')), true);
    assert.equal(state.isBlacklisted(Buffer.from('-TR3000-000000000000')), false);
    // immune: the group's (vip is immune), but the donor override (false) wins for donor user 2, lifetime (true) for user 4.
    assert.deepEqual([state.immune(1), state.immune(2), state.immune(4), state.immune(99)], [false, false, true, false]);
    const noOverride = new Unit3dState({ donorImmunityOverride: null, lifetimeDonorImmunityOverride: null }, 31 * 60_000);
    noOverride.replace(snap, false, Date.now());
    assert.deepEqual([noOverride.immune(1), noOverride.immune(2), noOverride.immune(4)], [false, true, false]);
  });

  it('a failed load names the table and stops the start; an unreachable server\'s error carries no password', async (t) => {
    if (db === undefined) return t.skip('no MariaDB');
    await db.exec(['DROP TABLE featured_torrents']);
    await assert.rejects(loadUnit3dSnapshot(db.url, 5000), (e: Error) => {
      assert.ok(e instanceof SiteLoadError);
      assert.match(e.message, /^site unit3d: loading featured_torrents from .* failed: .*featured_torrents/);
      return true;
    });
    // The tracker does not start without the site's state.
    await assert.rejects(startSite(db.url), (e: Error) => e instanceof SiteLoadError && /featured_torrents/.test(e.message));
    await assert.rejects(loadUnit3dSnapshot('mysql://root:hunter2secret@127.0.0.1:1/site', 2000), (e: Error) => {
      assert.ok(e instanceof SiteLoadError);
      assert.match(e.message, /^site unit3d: loading users from mysql:\/\/root:\*\*\*@127\.0\.0\.1:1\/site failed/);
      assert.doesNotMatch(e.message, /hunter2secret/);
      return true;
    });
  });
});
