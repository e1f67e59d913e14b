/**
 * The UNIT3D writer's transaction: a batch that fails midway (a statement strict mode refuses,
 * the connection killed while a write waits on a lock) leaves nothing; small statement chunks
 * and a 20,000-delta batch give the same rows as the semantics say.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { mysqlUrlOrSkip } from '../../support/mysql.js';
import { makeWriter, siteDb, u3, type SiteDb } from './writer-setup.js';
import type { StatDelta } from '../../../src/accounting/delta.js';
import { RecordBatch } from '../../../src/accounting/record-batch.js';
import { RECORD_SIZE, encodeRecordInto } from '../../../src/accounting/delta-record.js';
import { usersUpdates, peersUpserts, historyUpserts, chunkOf, USERS_UPDATE } from '../../../src/sites/unit3d/writer-sql.js';

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

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** Everything the writer may touch, to compare before and after. */
async function snapshot(db: SiteDb) {
  return {
    users: await db.rows('SELECT id, uploaded, downloaded FROM users ORDER BY id'),
    history: await db.rows('SELECT * FROM history ORDER BY user_id, torrent_id'),
    peers: await db.rows('SELECT * FROM peers ORDER BY user_id, torrent_id, peer_id'),
    torrents: await db.rows('SELECT id, seeders, leechers, times_completed, balance, updated_at FROM torrents ORDER BY id'),
    mark: await db.rows('SELECT instance, applied_through FROM privtrak_site_applied ORDER BY instance'),
  };
}

describe('unit3d writer: a failed batch leaves nothing', () => {
  it('a statement strict mode refuses (torrents.seeders past int) rolls back the users, peers and history already written', async (t) => {
    const s = await setup(t, [1, 2], [10, 11]);
    if (s === undefined) return;
    await s.writer.apply({ id: 1, instance: 'a', deltas: [u3(1, 1, 10, 1, 0, { event: 'started', uploaded: 5, deltaUp: 5, creditUp: 5 })] });
    await s.db.exec('UPDATE torrents SET seeders = 2147483647 WHERE id = 11');
    const before = await snapshot(s.db);
    const batch = {
      id: 3, instance: 'a', deltas: [
        u3(2, 1, 10, 1, 60, { uploaded: 50, deltaUp: 45, creditUp: 45 }),
        u3(3, 2, 11, 2, 60, { event: 'started', left: 0, uploaded: 9, deltaUp: 9, creditUp: 9 }),
      ],
    };
    // Not strict, MariaDB would clip the counter at 2^31 - 1 and warn; strict, the UPDATE fails.
    await assert.rejects(s.writer.apply(batch), /out of range/i);
    assert.deepEqual(await snapshot(s.db), before, 'nothing of the batch stayed');
    await s.db.exec('UPDATE torrents SET seeders = 0 WHERE id = 11');
    await s.writer.apply(batch);
    const [u1] = await s.db.rows('SELECT uploaded FROM users WHERE id = 1');
    assert.equal(Number(u1!['uploaded']), 1050, 'applied once, after the fix');
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 3 });
  });

  it('the connection killed while the history upsert waits on a lock: nothing stays; the retry applies once', async (t) => {
    const s = await setup(t, [1, 2], [10], { timeout: '20s' });
    if (s === undefined) return;
    await s.writer.apply({ id: 1, instance: 'a', deltas: [u3(1, 1, 10, 1, 0, { event: 'started' })] });
    const before = await snapshot(s.db);
    // Another session holds history (1, 10): the writer's users, torrents and peers writes run, then it waits.
    const lock = await mysql.createConnection({ uri: s.db.url });
    const batch = {
      id: 3, instance: 'a', deltas: [
        u3(2, 2, 10, 2, 30, { event: 'started', left: 0, uploaded: 70, deltaUp: 70, creditUp: 70 }),
        u3(3, 1, 10, 1, 60, { uploaded: 50, deltaUp: 50, creditUp: 100 }),
      ],
    };
    try {
      await lock.query('START TRANSACTION');
      await lock.query('SELECT * FROM history WHERE user_id = 1 AND torrent_id = 10 FOR UPDATE');
      const applying = s.writer.apply(batch);
      const outcome = applying.then(() => 'applied', (e: unknown) => e);
      // Wait until the writer's transaction waits on our lock, then kill its connection.
      let victim: number | undefined;
      for (let i = 0; i < 200 && victim === undefined; i++) {
        const [rows] = await lock.query(
          "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID() AND info LIKE 'INSERT INTO history%'");
        victim = (rows as Array<{ id: number }>)[0]?.id;
        if (victim === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(victim !== undefined, 'the writer waited on the held lock');
      await lock.query(`KILL ${victim}`);
      assert.ok((await outcome) instanceof Error, 'the batch rejects');
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      await lock.end().catch(() => undefined);
    }
    assert.deepEqual(await snapshot(s.db), before, 'the users, torrents and peers writes before the wait were rolled back');
    await s.writer.apply(batch);
    const users = await s.db.rows('SELECT id, uploaded FROM users ORDER BY id');
    assert.deepEqual(users.map((u) => Number(u['uploaded'])), [1100, 1070]);
    const [t10] = await s.db.rows('SELECT seeders, leechers FROM torrents WHERE id = 10');
    assert.deepEqual([Number(t10!['seeders']), Number(t10!['leechers'])], [1, 1]);
  });
});

describe('unit3d writer: statement sizes', () => {
  it('chunks at max_records_per_batch (and at UNIT3D-Announce\'s record counts without it)', () => {
    const users = range(1, 7).map((id) => ({ userId: 8 - id, uploaded: id, downloaded: 0 }));
    // Per chunk of 3 users: the scratch table emptied, filled (sorted by id), joined to users.
    const userSql = [...usersUpdates(users, 3)];
    assert.deepEqual(userSql.map((q) => q.split(' ')[0]), ['DELETE', 'INSERT', 'UPDATE', 'DELETE', 'INSERT', 'UPDATE', 'DELETE', 'INSERT', 'UPDATE']);
    assert.equal(userSql[1], 'INSERT INTO privtrak_user_credits VALUES (1,7,0),(2,6,0),(3,5,0)');
    assert.equal(userSql[7], 'INSERT INTO privtrak_user_credits VALUES (7,1,0)');
    assert.equal(userSql[2], USERS_UPDATE);
    assert.equal(chunkOf('history', 0), 4095);
    assert.equal(chunkOf('peers', 0), 4369);
    assert.equal(chunkOf('users', 0), 7281);
    assert.equal(chunkOf('peers', 100), 100);
    assert.equal(chunkOf('history', 10_000), 4095);
    const peers = range(1, 5).map((id) => ({
      userId: 6 - id, torrentId: 1, peerId: Buffer.alloc(20, id), ip: Buffer.from([10, 0, 0, 1]), port: 1, agent: 'a', uploaded: 0, downloaded: 0, left: 0,
      active: true, visible: true, createdMs: 0, updatedMs: 0,
    }));
    const sql = [...peersUpserts(peers, 2)];
    assert.equal(sql.length, 3);
    // Sorted by primary key (user_id first): user 1's row opens the first statement.
    assert.match(sql[0]!, /VALUES \(X'(05){20}'.*,1,1,0\),\(X'(04){20}'/);
    const history = range(1, 3).map((id) => ({
      userId: id, torrentId: 1, agent: "it's", uploaded: 0, actualUploaded: 0, clientUploaded: 0, downloaded: 0, actualDownloaded: 0, clientDownloaded: 0,
      seeder: true, seedtime: 0, active: true, createdMs: 0, updatedMs: 0, completedMs: null,
    }));
    assert.match([...historyUpserts(history, () => false, 10)][0]!, /'it\\'s'/, 'agents are escaped');
  });

  it('a small max_records_per_batch writes the same rows as the semantics say', async (t) => {
    const s = await setup(t, range(1, 9), range(100, 7), { maxRecords: 2 });
    if (s === undefined) return;
    const deltas: StatDelta[] = [];
    let seq = 0;
    for (let u = 1; u <= 9; u++) {
      for (let k = 0; k < 3; k++) {
        const tor = 100 + ((u + k) % 7);
        deltas.push(u3(++seq, u, tor, u * 10 + k, seq, { event: 'started', left: k === 0 ? 0 : 10, uploaded: u, deltaUp: u, creditUp: 2 * u, snatch: k === 1 }));
      }
    }
    await s.writer.apply({ id: seq, instance: 'a', deltas });
    const users = await s.db.rows('SELECT id, uploaded FROM users ORDER BY id');
    assert.deepEqual(users.map((r) => Number(r['uploaded'])), range(1, 9).map((u) => 1000 + 6 * u));
    const [h] = await s.db.rows('SELECT COUNT(*) AS n, SUM(actual_uploaded) AS up FROM history');
    assert.deepEqual([Number(h!['n']), Number(h!['up'])], [27, 3 * 45]);
    const torrents = await s.db.rows('SELECT id, seeders, leechers, times_completed, balance FROM torrents ORDER BY id');
    const expected = range(100, 7).map((id) => {
      const mine = deltas.filter((d) => d.siteTorrentId === id);
      return [id, mine.filter((d) => d.left === 0).length, mine.filter((d) => d.left > 0).length, mine.filter((d) => d.snatch).length,
        mine.reduce((a, d) => a + d.deltaUp, 0)];
    });
    assert.deepEqual(torrents.map((r) => [Number(r['id']), Number(r['seeders']), Number(r['leechers']), Number(r['times_completed']), Number(r['balance'])]), expected);
  });
});

describe('unit3d writer: a large batch', () => {
  it('20,000 deltas (as journal records) over 2,000 users and 500 torrents: totals and counters exact', async (t) => {
    const USERS = 2000;
    const TORRENTS = 500;
    const s = await setup(t, range(1, USERS), range(1, TORRENTS));
    if (s === undefined) return;
    // A fixed pseudo-random walk: each (user, torrent, peer) announces a few times; some stop.
    let x = 12345;
    const rnd = (n: number) => { x = (x * 1103515245 + 12345) % 2147483648; return x % n; };
    const peers = new Map<string, { user: number; torrent: number; peer: number; up: number; left: number; active: boolean }>();
    const deltas: StatDelta[] = [];
    for (let seq = 1; seq <= 20_000; seq++) {
      const user = 1 + rnd(USERS);
      const torrent = 1 + rnd(TORRENTS);
      const peer = rnd(2);
      const key = `${user}:${torrent}:${peer}`;
      const p = peers.get(key) ?? { user, torrent, peer, up: 0, left: rnd(2) === 0 ? 0 : 1000, active: false };
      const up = rnd(1 << 20);
      const stop = p.active && rnd(5) === 0;
      p.up += up;
      if (p.left > 0 && rnd(3) === 0) p.left = 0;
      p.active = !stop;
      peers.set(key, p);
      deltas.push(u3(seq, user, torrent, user * 2 + peer, seq % 600, {
        event: stop ? 'stopped' : 'none', uploaded: p.up, deltaUp: up, creditUp: up * 2, left: p.left, seedTime: p.left === 0 ? 30 : 0,
        baseline: stop ? null : { uploaded: p.up, downloaded: 0, left: p.left, lastMs: 0 },
      }));
    }
    const records = Buffer.alloc(deltas.length * RECORD_SIZE);
    deltas.forEach((d, i) => encodeRecordInto(d, records, i * RECORD_SIZE));
    await s.writer.apply(new RecordBatch('a', records));

    const creditedByUser = new Map<number, number>();
    for (const d of deltas) {
      const u = Number(d.user.readBigUInt64BE(1));
      creditedByUser.set(u, (creditedByUser.get(u) ?? 0) + d.creditUp);
    }
    const users = await s.db.rows('SELECT id, uploaded FROM users ORDER BY id');
    assert.deepEqual(users.map((r) => Number(r['uploaded'])), range(1, USERS).map((u) => 1000 + (creditedByUser.get(u) ?? 0)));
    const seeders = new Map<number, number>();
    const leechers = new Map<number, number>();
    for (const p of peers.values()) {
      if (!p.active) continue;
      const m = p.left === 0 ? seeders : leechers;
      m.set(p.torrent, (m.get(p.torrent) ?? 0) + 1);
    }
    const torrents = await s.db.rows('SELECT id, seeders, leechers FROM torrents ORDER BY id');
    assert.deepEqual(torrents.map((r) => [Number(r['seeders']), Number(r['leechers'])]),
      range(1, TORRENTS).map((id) => [seeders.get(id) ?? 0, leechers.get(id) ?? 0]));
    const [n] = await s.db.rows('SELECT COUNT(*) AS n FROM peers');
    assert.equal(Number(n!['n']), peers.size);
    const [h] = await s.db.rows('SELECT SUM(actual_uploaded) AS up, SUM(seedtime) AS seed FROM history');
    assert.equal(Number(h!['up']), deltas.reduce((a, d) => a + d.deltaUp, 0));
    assert.equal(Number(h!['seed']), deltas.reduce((a, d) => a + d.seedTime, 0));
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 20_000 });
  });
});
