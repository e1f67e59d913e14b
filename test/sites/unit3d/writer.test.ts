/**
 * The UNIT3D writer against real MariaDB, UNIT3D's tables in strict mode (schema.ts), a fresh
 * database per test. Expected rows are written from UNIT3D-Announce's documented semantics
 * (../shared/sites/README.md A.2) and the writer's brief (exact seedtime added, history active
 * while another peer of the user is, counters from peers-row transitions), not from the writer.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mysqlUrlOrSkip } from '../../support/mysql.js';
import { SinkSchemaError } from '../../../src/sinks/sink-errors.js';
import { hashedPasskeyKey, siteUserKey } from '../../../src/accounting/user-key.js';
import { at, infoHashOf, makeWriter, metricValue, peerIdOf, siteDb, u3, T0, type SiteDb } from './writer-setup.js';
import type { Unit3dWriter } from '../../../src/sites/unit3d/writer.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.splice(0)) await c().catch(() => undefined); });

async function setup(t: { skip(msg: string): void }, users: number[], torrents: number[], o: Parameters<typeof makeWriter>[1] = {}) {
  const base = await mysqlUrlOrSkip(t);
  if (base === undefined) return undefined;
  const db = await siteDb(base, users, torrents);
  const w = makeWriter(db.url, o);
  cleanups.push(async () => { await w.writer.close(); await db.close(); });
  await w.writer.open();
  return { db, ...w };
}

const num = (v: unknown) => Number(v);

async function history(db: SiteDb, user: number, torrent: number) {
  const [h] = await db.rows(`SELECT agent, uploaded, actual_uploaded, client_uploaded, downloaded, actual_downloaded, client_downloaded, seeder, active,
    seedtime, immune, CAST(created_at AS CHAR) AS created_at, CAST(updated_at AS CHAR) AS updated_at, CAST(completed_at AS CHAR) AS completed_at
    FROM history WHERE user_id = ? AND torrent_id = ?`, [user, torrent]);
  if (h === undefined) return undefined;
  return {
    agent: h['agent'], uploaded: num(h['uploaded']), actual_uploaded: num(h['actual_uploaded']), client_uploaded: num(h['client_uploaded']),
    downloaded: num(h['downloaded']), actual_downloaded: num(h['actual_downloaded']), client_downloaded: num(h['client_downloaded']),
    seeder: num(h['seeder']), active: num(h['active']), seedtime: num(h['seedtime']), immune: num(h['immune']),
    created_at: h['created_at'], updated_at: h['updated_at'], completed_at: h['completed_at'],
  };
}

async function torrent(db: SiteDb, id: number) {
  const [t] = await db.rows('SELECT seeders, leechers, times_completed, balance FROM torrents WHERE id = ?', [id]);
  return { seeders: num(t!['seeders']), leechers: num(t!['leechers']), times_completed: num(t!['times_completed']), balance: num(t!['balance']) };
}

async function user(db: SiteDb, id: number) {
  const [u] = await db.rows('SELECT uploaded, downloaded FROM users WHERE id = ?', [id]);
  return u === undefined ? undefined : { uploaded: num(u['uploaded']), downloaded: num(u['downloaded']) };
}

/** torrents' counters as the peers table says they should be. */
async function countedFromPeers(db: SiteDb, id: number) {
  const [r] = await db.rows('SELECT COALESCE(SUM(active = 1 AND seeder = 1), 0) AS s, COALESCE(SUM(active = 1 AND seeder = 0), 0) AS l FROM peers WHERE torrent_id = ?', [id]);
  return { seeders: num(r!['s']), leechers: num(r!['l']) };
}

const apply = (w: Unit3dWriter, id: number, deltas: ReturnType<typeof u3>[], instance = 'a') => w.apply({ id, instance, deltas });

describe('unit3d writer: open', () => {
  it('creates privtrak_site_applied; refuses a database without a site table or column, naming it', async (t) => {
    const s = await setup(t, [1], [10]);
    if (s === undefined) return;
    const [mark] = await s.db.rows("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'privtrak_site_applied'");
    assert.equal(num(mark!['n']), 1);
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 0 });

    await s.db.exec('ALTER TABLE history DROP COLUMN seedtime');
    const again = makeWriter(s.db.url);
    await assert.rejects(again.writer.open(), (e: unknown) => e instanceof SinkSchemaError && /`history`.*`seedtime`/.test(e.message));
    await again.writer.close();
    await s.db.exec('ALTER TABLE history ADD COLUMN seedtime bigint unsigned NOT NULL DEFAULT 0');
    await s.db.exec('DROP TABLE unregistered_info_hashes');
    const third = makeWriter(s.db.url);
    await assert.rejects(third.writer.open(), (e: unknown) => e instanceof SinkSchemaError && /no table `unregistered_info_hashes`/.test(e.message));
    await third.writer.close();
  });
});

describe('unit3d writer: the rows of a batch', () => {
  it('credited vs raw, client totals, exact seedtime, completed_at once, seeder transitions, times_completed, balance, peers rows', async (t) => {
    const s = await setup(t, [1, 2], [10], { immune: (id) => id === 1 });
    if (s === undefined) return;
    s.extras.set(siteUserKey(1), infoHashOf(10), peerIdOf(1), 'qBittorrent/4.5.2', true, T0);
    // Batch 1: user 1's peer starts leeching, then reports 100 up / 600 down, credited double up and freeleech.
    await apply(s.writer, 2, [
      u3(1, 1, 10, 1, 0, { event: 'started', left: 1000 }),
      u3(2, 1, 10, 1, 60, { left: 400, uploaded: 100, downloaded: 600, deltaUp: 100, deltaDown: 600, creditUp: 200, creditDown: 0, leechTime: 60 }),
    ]);
    assert.deepEqual(await torrent(s.db, 10), { seeders: 0, leechers: 1, times_completed: 0, balance: -500 });
    assert.deepEqual(await user(s.db, 1), { uploaded: 1200, downloaded: 500 });
    // Batch 2: completes (snatch), seeds 1800 s; user 2 starts as a seeder.
    await apply(s.writer, 5, [
      u3(3, 1, 10, 1, 120, { event: 'completed', left: 0, uploaded: 150, downloaded: 1000, deltaUp: 50, deltaDown: 400, creditUp: 100, creditDown: 0, snatch: true }),
      u3(4, 1, 10, 1, 1920, { left: 0, uploaded: 450, downloaded: 1000, deltaUp: 300, creditUp: 600, seedTime: 1800 }),
      u3(5, 2, 10, 2, 1930, { event: 'started', left: 0, ip: '2001:db8::7', port: 51413 }),
    ]);
    assert.deepEqual(await user(s.db, 1), { uploaded: 1900, downloaded: 500 }, '1000 + 200 + 100 + 600 credited up; nothing credited down');
    assert.deepEqual(await user(s.db, 2), { uploaded: 1000, downloaded: 500 });
    assert.deepEqual(await history(s.db, 1, 10), {
      agent: 'qBittorrent/4.5.2', uploaded: 900, actual_uploaded: 450, client_uploaded: 450, downloaded: 0, actual_downloaded: 1000, client_downloaded: 1000,
      seeder: 1, active: 1, seedtime: 1800, immune: 1, created_at: at(0), updated_at: at(1920), completed_at: at(120),
    });
    const h2 = await history(s.db, 2, 10);
    assert.equal(h2?.agent, 'qBittorrent/4.5.2.0', 'no extras: the client named from its peer_id');
    assert.equal(h2?.immune, 0);
    assert.deepEqual(await torrent(s.db, 10), { seeders: 2, leechers: 0, times_completed: 1, balance: -550 });

    const peers = await s.db.rows(`SELECT user_id, HEX(ip) AS ip, port, agent, uploaded, downloaded, \`left\`, seeder, active, visible, connectable,
      CAST(created_at AS CHAR) AS created_at, CAST(updated_at AS CHAR) AS updated_at FROM peers ORDER BY user_id`);
    assert.deepEqual(peers.map((p) => ({ ...p, user_id: num(p['user_id']), port: num(p['port']), uploaded: num(p['uploaded']), downloaded: num(p['downloaded']),
      left: num(p['left']), seeder: num(p['seeder']), active: num(p['active']), visible: num(p['visible']), connectable: num(p['connectable']) })), [
      { user_id: 1, ip: '0A000001', port: 6881, agent: 'qBittorrent/4.5.2', uploaded: 450, downloaded: 1000, left: 0, seeder: 1, active: 1, visible: 1, connectable: 0,
        created_at: at(0), updated_at: at(1920) },
      { user_id: 2, ip: '20010DB8000000000000000000000007', port: 51413, agent: 'qBittorrent/4.5.2.0', uploaded: 0, downloaded: 0, left: 0, seeder: 1, active: 1, visible: 1,
        connectable: 0, created_at: at(1930), updated_at: at(1930) },
    ]);

    // Batch 3: user 1's peer stops (no baseline left); later the user completes again from a new peer.
    await s.db.exec('UPDATE peers SET connectable = 1 WHERE user_id = 1');
    await apply(s.writer, 6, [u3(6, 1, 10, 1, 2000, { event: 'stopped', left: 0, uploaded: 500, downloaded: 1000, deltaUp: 50, creditUp: 100, seedTime: 80, baseline: null })]);
    const stopped = await history(s.db, 1, 10);
    assert.equal(stopped?.active, 0, 'the only peer stopped');
    assert.equal(stopped?.seedtime, 1880, 'seedtime adds the exact seconds');
    assert.deepEqual(await torrent(s.db, 10), { seeders: 1, leechers: 0, times_completed: 1, balance: -500 });
    const [p1] = await s.db.rows('SELECT active, connectable FROM peers WHERE user_id = 1');
    assert.deepEqual([num(p1!['active']), num(p1!['connectable'])], [0, 1], 'stopped: active 0; connectable kept');
    await apply(s.writer, 7, [u3(7, 1, 10, 3, 3000, { event: 'completed', left: 0, snatch: true })]);
    const again = await history(s.db, 1, 10);
    assert.equal(again?.completed_at, at(120), 'completed_at is set once');
    assert.equal(again?.active, 1);
    assert.deepEqual(await torrent(s.db, 10), { seeders: 2, leechers: 0, times_completed: 2, balance: -500 });
    assert.deepEqual(await torrent(s.db, 10), { ...(await countedFromPeers(s.db, 10)), times_completed: 2, balance: -500 });
  });

  it('two peers of one user on one torrent: stopping one keeps history active; counters follow the peers table', async (t) => {
    const s = await setup(t, [3], [11]);
    if (s === undefined) return;
    await apply(s.writer, 2, [u3(1, 3, 11, 1, 0, { event: 'started', left: 0 }), u3(2, 3, 11, 2, 5, { event: 'started', left: 0 })]);
    assert.deepEqual(await torrent(s.db, 11), { seeders: 2, leechers: 0, times_completed: 0, balance: 0 });
    await apply(s.writer, 3, [u3(3, 3, 11, 1, 100, { event: 'stopped', left: 0, baseline: null })]);
    assert.equal((await history(s.db, 3, 11))?.active, 1, 'the other seed is still active (UNIT3D-Announce#17)');
    assert.deepEqual(await torrent(s.db, 11), { seeders: 1, leechers: 0, times_completed: 0, balance: 0 });
    // A peer that was stopped and starts again in one batch; the other stops in the same batch.
    await apply(s.writer, 6, [
      u3(4, 3, 11, 1, 200, { event: 'started', left: 500 }),
      u3(5, 3, 11, 2, 210, { event: 'stopped', left: 0, baseline: null }),
      u3(6, 3, 11, 1, 220, { left: 300 }),
    ]);
    assert.deepEqual(await torrent(s.db, 11), { seeders: 0, leechers: 1, times_completed: 0, balance: 0 });
    assert.equal((await history(s.db, 3, 11))?.active, 1);
    assert.equal((await history(s.db, 3, 11))?.seeder, 0, 'seeder = the last delta has left > 0');
    await apply(s.writer, 7, [u3(7, 3, 11, 1, 300, { event: 'stopped', left: 300, baseline: null })]);
    assert.equal((await history(s.db, 3, 11))?.active, 0);
    assert.deepEqual(await torrent(s.db, 11), { seeders: 0, leechers: 0, times_completed: 0, balance: 0 });
  });

  it('immune: set from the facts on insert, then immune AND new', async (t) => {
    let immune = true;
    const s = await setup(t, [1], [10], { immune: () => immune });
    if (s === undefined) return;
    await apply(s.writer, 1, [u3(1, 1, 10, 1, 0, { event: 'started' })]);
    assert.equal((await history(s.db, 1, 10))?.immune, 1);
    immune = false;
    await apply(s.writer, 2, [u3(2, 1, 10, 1, 10)]);
    assert.equal((await history(s.db, 1, 10))?.immune, 0);
    immune = true;
    await apply(s.writer, 3, [u3(3, 1, 10, 1, 20)]);
    assert.equal((await history(s.db, 1, 10))?.immune, 0, 'once not immune, stays so (A.2)');
  });
});

describe('unit3d writer: exactly once', () => {
  it('the same batch twice, and again by a second writer after a restart, changes nothing twice', async (t) => {
    const s = await setup(t, [1, 2], [10, 11]);
    if (s === undefined) return;
    const batch = [
      u3(1, 1, 10, 1, 0, { event: 'started', left: 0, uploaded: 10, deltaUp: 10, creditUp: 10 }),
      u3(2, 2, 11, 2, 0, { event: 'started', downloaded: 5, deltaDown: 5, creditDown: 5, left: 900 }),
      u3(3, 1, 10, 1, 1800, { left: 0, uploaded: 30, deltaUp: 20, creditUp: 40, seedTime: 1800, snatch: true }),
    ];
    await apply(s.writer, 3, batch);
    const snapshot = async () => ({
      users: await s.db.rows('SELECT id, uploaded, downloaded FROM users ORDER BY id'),
      history: await s.db.rows('SELECT * FROM history ORDER BY user_id, torrent_id'),
      peers: await s.db.rows('SELECT * FROM peers ORDER BY user_id, torrent_id, peer_id'),
      torrents: await s.db.rows('SELECT id, seeders, leechers, times_completed, balance, updated_at FROM torrents ORDER BY id'),
    });
    const once = await snapshot();
    assert.deepEqual(await user(s.db, 1), { uploaded: 1050, downloaded: 500 });
    await apply(s.writer, 3, batch);
    assert.deepEqual(await snapshot(), once, 'a retried batch changes nothing');
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 3 });

    await s.writer.close();
    const restarted = makeWriter(s.db.url);
    cleanups.push(() => restarted.writer.close());
    await restarted.writer.open();
    assert.deepEqual(await restarted.writer.load('a'), { appliedThrough: 3 });
    await apply(restarted.writer, 3, batch);
    assert.deepEqual(await snapshot(), once, 'nor after a restart');
    // Regrouped: the replay overlaps new deltas; only these count.
    await apply(restarted.writer, 4, [...batch.slice(1), u3(4, 1, 10, 1, 3600, { left: 0, uploaded: 35, deltaUp: 5, creditUp: 5, seedTime: 1800 })]);
    assert.deepEqual(await user(s.db, 1), { uploaded: 1055, downloaded: 500 });
    assert.equal((await history(s.db, 1, 10))?.seedtime, 3600);
    // Another instance's mark is its own.
    await apply(restarted.writer, 1, [u3(1, 2, 11, 3, 4000, { event: 'started', left: 0, uploaded: 7, deltaUp: 7, creditUp: 7 })], 'b');
    assert.deepEqual(await user(s.db, 2), { uploaded: 1007, downloaded: 505 });
  });
});

describe('unit3d writer: what it leaves out', () => {
  it('hashed user keys, users and torrents gone from the site: no rows, counted; the batch is not jammed', async (t) => {
    const s = await setup(t, [1, 2], [10, 11, 12]);
    if (s === undefined) return;
    // History of user 2 on torrent 12 exists; then the site deletes torrent 12 (history cascades).
    await apply(s.writer, 1, [u3(1, 2, 12, 2, 0, { event: 'started' })]);
    assert.equal(await metricValue(s.registry, 'privtrak_site_batches_total', { path: 'fast' }), 1, 'everything there: no existence reads');
    await s.db.exec('DELETE FROM torrents WHERE id = 12');
    await apply(s.writer, 5, [
      u3(2, 2, 12, 2, 60, { uploaded: 50, deltaUp: 50, creditUp: 50 }),
      u3(3, 99, 10, 9, 60, { event: 'started', uploaded: 70, deltaUp: 70, creditUp: 70 }),
      { ...u3(4, 1, 10, 4, 60, { event: 'started', uploaded: 80, deltaUp: 80, creditUp: 80 }), user: hashedPasskeyKey(Buffer.alloc(32, 1), 'a'.repeat(32)) },
      u3(5, 1, 11, 1, 60, { event: 'started', left: 0, uploaded: 3, deltaUp: 3, creditUp: 3 }),
    ]);
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 5 });
    assert.deepEqual(await user(s.db, 2), { uploaded: 1050, downloaded: 500 }, 'credits of a gone torrent still go to the user');
    assert.equal(await user(s.db, 99), undefined, 'no user is created');
    assert.deepEqual(await user(s.db, 1), { uploaded: 1003, downloaded: 500 });
    assert.deepEqual((await s.db.rows('SELECT user_id, torrent_id FROM history ORDER BY user_id')).map((r) => [num(r['user_id']), num(r['torrent_id'])]), [[1, 11]]);
    assert.deepEqual((await s.db.rows('SELECT user_id, torrent_id FROM peers ORDER BY user_id, torrent_id')).map((r) => [num(r['user_id']), num(r['torrent_id'])]),
      [[1, 11], [2, 12]], 'the peers row of torrent 12 written before its deletion stays; no new rows for it');
    assert.deepEqual(await torrent(s.db, 10), { seeders: 0, leechers: 0, times_completed: 0, balance: 0 });
    assert.equal(await metricValue(s.registry, 'privtrak_site_rows_dropped_total', { reason: 'not_site_user' }), 1);
    assert.equal(await metricValue(s.registry, 'privtrak_site_rows_dropped_total', { reason: 'user_gone' }), 1);
    assert.equal(await metricValue(s.registry, 'privtrak_site_rows_dropped_total', { reason: 'torrent_gone' }), 1);
    assert.ok(await metricValue(s.registry, 'privtrak_site_rows_written_total', { table: 'history' }) >= 2);
    assert.equal(await metricValue(s.registry, 'privtrak_site_batches_total', { path: 'checked' }), 1, 'redone with the existence reads');
  });

  it('the fast path notices a gone user with nothing to credit, and a gone torrent alone: each batch is redone checked, the rest written', async (t) => {
    const s = await setup(t, [1, 2], [10, 11]);
    if (s === undefined) return;
    // User 99 is not on the site and has nothing credited: only the users count shows it.
    await apply(s.writer, 2, [
      u3(1, 99, 10, 9, 60, { event: 'started' }),
      u3(2, 1, 10, 1, 60, { event: 'started', uploaded: 10, deltaUp: 10, creditUp: 10 }),
    ]);
    assert.equal(await metricValue(s.registry, 'privtrak_site_batches_total', { path: 'checked' }), 1);
    assert.equal(await metricValue(s.registry, 'privtrak_site_rows_dropped_total', { reason: 'user_gone' }), 1);
    assert.deepEqual(await user(s.db, 1), { uploaded: 1010, downloaded: 500 });
    // Torrent 13 is not on the site; its user exists: only the torrents count shows it.
    await apply(s.writer, 4, [
      u3(3, 2, 13, 2, 60, { event: 'started', uploaded: 5, deltaUp: 5, creditUp: 5 }),
      u3(4, 2, 11, 3, 60, { event: 'started', left: 0, uploaded: 6, deltaUp: 6, creditUp: 6 }),
    ]);
    assert.equal(await metricValue(s.registry, 'privtrak_site_batches_total', { path: 'checked' }), 2);
    assert.equal(await metricValue(s.registry, 'privtrak_site_rows_dropped_total', { reason: 'torrent_gone' }), 1);
    assert.deepEqual(await user(s.db, 2), { uploaded: 1011, downloaded: 500 }, 'credits of the gone torrent still go to the user');
    assert.deepEqual(await torrent(s.db, 11), { seeders: 1, leechers: 0, times_completed: 0, balance: 6 });
    assert.deepEqual((await s.db.rows('SELECT user_id, torrent_id FROM history ORDER BY user_id, torrent_id')).map((r) => [num(r['user_id']), num(r['torrent_id'])]),
      [[1, 10], [2, 11]]);
    // Everything there again: fast.
    await apply(s.writer, 5, [u3(5, 1, 10, 1, 120, { uploaded: 30, deltaUp: 20, creditUp: 20 })]);
    assert.equal(await metricValue(s.registry, 'privtrak_site_batches_total', { path: 'fast' }), 1);
    assert.deepEqual(await user(s.db, 1), { uploaded: 1030, downloaded: 500 });
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 5 });
  });

  it('unregistered info hashes of known users are upserted (created_at kept, updated_at moved); unknown users are left out', async (t) => {
    const s = await setup(t, [1], [10]);
    if (s === undefined) return;
    const ih = Buffer.alloc(20, 0xee);
    s.writer.noteUnregistered(1, ih, T0);
    s.writer.noteUnregistered(1, ih, T0 + 5000);
    s.writer.noteUnregistered(77, ih, T0);
    s.writer.noteUnregistered(1, Buffer.alloc(3), T0); // malformed: ignored
    await apply(s.writer, 1, [u3(1, 1, 10, 1, 0, { event: 'started' })]);
    const rows = await s.db.rows('SELECT user_id, HEX(info_hash) AS ih, CAST(created_at AS CHAR) AS c, CAST(updated_at AS CHAR) AS u FROM unregistered_info_hashes');
    assert.deepEqual(rows.map((r) => ({ ...r, user_id: num(r['user_id']) })), [{ user_id: 1, ih: 'EE'.repeat(20), c: at(0), u: at(5) }]);
    s.writer.noteUnregistered(1, ih, T0 + 60_000);
    await s.writer.reap(T0 + 61_000); // the reaper's round writes them when no batch comes
    const [r] = await s.db.rows('SELECT CAST(created_at AS CHAR) AS c, CAST(updated_at AS CHAR) AS u FROM unregistered_info_hashes');
    assert.deepEqual(r, { c: at(0), u: at(60) });
  });
});

describe('unit3d writer: totals', () => {
  it('per user: users totals beside history raw sums; per torrent: history rows', async (t) => {
    const s = await setup(t, [1, 2], [10, 11]);
    if (s === undefined) return;
    await apply(s.writer, 3, [
      u3(1, 1, 10, 1, 0, { event: 'started', left: 0, uploaded: 10, deltaUp: 10, creditUp: 20, seedTime: 0 }),
      u3(2, 1, 11, 2, 0, { event: 'completed', left: 0, downloaded: 40, deltaDown: 40, creditDown: 0, snatch: true }),
      u3(3, 1, 10, 1, 600, { left: 0, uploaded: 15, deltaUp: 5, creditUp: 10, seedTime: 600 }),
    ]);
    const all = await s.writer.totals({ byTorrent: false });
    assert.deepEqual(all.map((r) => [r.user.equals(siteUserKey(1)), r.uploaded, r.downloaded, r.rawUploaded, r.rawDownloaded, r.seedTime, r.snatched]),
      [[true, 1030n, 500n, 15n, 40n, 600n, 1n]], 'user 2 has no history row: not listed');
    const one = await s.writer.totals({ user: siteUserKey(2), byTorrent: false });
    assert.deepEqual(one.map((r) => [r.uploaded, r.rawUploaded]), [[1000n, 0n]], 'asked for by key: listed');
    const byTorrent = await s.writer.totals({ user: siteUserKey(1), byTorrent: true });
    assert.deepEqual(byTorrent.map((r) => [r.infoHash?.equals(infoHashOf(Number(r.siteTorrentId))), r.siteTorrentId, r.uploaded, r.rawUploaded, r.rawDownloaded, r.seedTime, r.snatched]),
      [[true, 10n, 30n, 15n, 0n, 600n, 0n], [true, 11n, 0n, 0n, 40n, 0n, 1n]]);
    assert.deepEqual(await s.writer.totals({ user: Buffer.alloc(16, 2), byTorrent: false }), []);
  });
});
