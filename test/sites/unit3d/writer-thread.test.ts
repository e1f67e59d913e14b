/**
 * The UNIT3D writer's database half on its own thread (writer-thread.ts): it starts with the first
 * call and ends with close; a thread that dies mid-batch rejects the batch with SinkThreadError,
 * leaves nothing of it (the server rolls the dead connection's transaction back), and the retry
 * on a new thread applies it once; errors keep their types across the thread; in place and on
 * the thread give the same rows. And what the announce thread reads per record (writer-side.ts).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { mysqlUrlOrSkip } from '../../support/mysql.js';
import { infoHashOf, makeWriter, peerIdOf, siteDb, T0, u3, type SiteDb, type WriterOptions } from './writer-setup.js';
import { SinkSchemaError, SinkThreadError } from '../../../src/sinks/sink-errors.js';
import { PeerExtras } from '../../../src/sites/peer-extras.js';
import { siteUserKey } from '../../../src/accounting/user-key.js';
import { RECORD_SIZE, encodeRecordInto } from '../../../src/accounting/delta-record.js';
import { SIDE_EXTRA, SIDE_IMMUNE, SIDE_VISIBLE, describeRecords, sideAgentIndex } from '../../../src/sites/unit3d/writer-side.js';
import type { StatDelta } from '../../../src/accounting/delta.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.splice(0)) await c().catch(() => undefined); });

async function setup(t: { skip(msg: string): void }, users: number[], torrents: number[], o: WriterOptions = {}) {
  const base = await mysqlUrlOrSkip(t);
  if (base === undefined) return undefined;
  const db = await siteDb(base, users, torrents);
  const w = makeWriter(db.url, o);
  cleanups.push(async () => { await w.writer.close(); await db.close(); });
  return { db, ...w };
}

/** Everything the writer may touch. */
async function snapshot(db: SiteDb) {
  return {
    users: await db.rows('SELECT id, uploaded, downloaded FROM users ORDER BY id'),
    history: await db.rows('SELECT * FROM history ORDER BY user_id, torrent_id'),
    peers: await db.rows('SELECT * FROM peers ORDER BY user_id, torrent_id, peer_id'),
    torrents: await db.rows('SELECT id, seeders, leechers, times_completed, balance, updated_at FROM torrents ORDER BY id'),
    unregistered: await db.rows('SELECT user_id, HEX(info_hash) AS ih, created_at, updated_at FROM unregistered_info_hashes ORDER BY user_id'),
  };
}

/** The writer's sessions on the site's database (the processlist), other than `self`. */
async function writerSessions(conn: mysql.Connection): Promise<number> {
  const [rows] = await conn.query('SELECT COUNT(*) AS n FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()');
  return Number((rows as Array<{ n: number }>)[0]!.n);
}

describe('unit3d writer thread: start and stop', () => {
  it('starts with the first call, runs the batch there, and ends (thread and connection) with close', async (t) => {
    const s = await setup(t, [1], [10]);
    if (s === undefined) return;
    const thread = s.writer.thread;
    assert.ok(thread !== undefined, 'a thread by default');
    assert.equal(thread.threadId, undefined, 'no thread before the first call');
    await s.writer.open();
    const id = thread.threadId;
    assert.ok(id !== undefined && id > 0);
    await s.writer.apply({ id: 1, instance: 'a', deltas: [u3(1, 1, 10, 1, 0, { event: 'started', uploaded: 5, deltaUp: 5, creditUp: 5 })] });
    assert.equal(thread.threadId, id, 'the same thread for every call');
    const [u] = await s.db.rows('SELECT uploaded FROM users WHERE id = 1');
    assert.equal(Number(u!['uploaded']), 1005);
    const lock = await mysql.createConnection({ uri: s.db.url });
    try {
      assert.equal(await writerSessions(lock), 2, "the writer's session (and the test's own)");
      await s.writer.close();
      assert.equal(thread.threadId, undefined, 'the thread ended');
      let n = await writerSessions(lock);
      for (let i = 0; i < 40 && n > 1; i++) { await new Promise((r) => setTimeout(r, 25)); n = await writerSessions(lock); }
      assert.equal(n, 1, "the writer's session closed");
    } finally {
      await lock.end();
    }
  });

  it('a writer closed without a call never starts a thread', async (t) => {
    const s = await setup(t, [1], [10]);
    if (s === undefined) return;
    await s.writer.close();
    assert.equal(s.writer.thread?.threadId, undefined);
  });

  it('errors keep their types across the thread: the schema check, a server error with its code', async (t) => {
    const s = await setup(t, [1, 2], [10, 11]);
    if (s === undefined) return;
    await s.writer.open();
    await s.db.exec('UPDATE torrents SET seeders = 2147483647 WHERE id = 11');
    const batch = { id: 2, instance: 'a', deltas: [u3(2, 2, 11, 2, 0, { event: 'started', left: 0 })] };
    await assert.rejects(s.writer.apply(batch), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'ER_WARN_DATA_OUT_OF_RANGE');
    await s.db.exec('DROP TABLE unregistered_info_hashes');
    const again = makeWriter(s.db.url);
    cleanups.push(() => again.writer.close());
    await assert.rejects(again.writer.open(), (e: unknown) => e instanceof SinkSchemaError && e.code === 'SINK_SCHEMA');
  });
});

describe('unit3d writer thread: a thread that dies', () => {
  it('mid-batch: the batch rejects with SinkThreadError, nothing of it stays, the retry on a new thread applies it once', async (t) => {
    const s = await setup(t, [1, 2], [10], { timeout: '20s' });
    if (s === undefined) return;
    await s.writer.open();
    await s.writer.apply({ id: 1, instance: 'a', deltas: [u3(1, 1, 10, 1, 0, { event: 'started' })] });
    const before = await snapshot(s.db);
    s.writer.noteUnregistered(2, Buffer.alloc(20, 0xee), T0);
    const batch = {
      id: 3, instance: 'a', deltas: [
        u3(2, 2, 10, 2, 30, { event: 'started', left: 0, uploaded: 70, deltaUp: 70, creditUp: 70 }),
        u3(3, 1, 10, 1, 60, { uploaded: 50, deltaUp: 50, creditUp: 100 }),
      ],
    };
    const firstThread = s.writer.thread!.threadId;
    // Another session holds history (1, 10): the batch's users, torrents and peers writes run, then it waits there.
    const lock = await mysql.createConnection({ uri: s.db.url });
    try {
      await lock.query('START TRANSACTION');
      await lock.query('SELECT * FROM history WHERE user_id = 1 AND torrent_id = 10 FOR UPDATE');
      const outcome = s.writer.apply(batch).then(() => 'applied', (e: unknown) => e);
      let waiting = false;
      for (let i = 0; i < 200 && !waiting; i++) {
        const [rows] = await lock.query(
          "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID() AND info LIKE 'INSERT INTO history%'");
        waiting = (rows as unknown[]).length > 0;
        if (!waiting) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(waiting, 'the batch waited on the held lock');
      await s.writer.thread!.kill();
      const err = await outcome;
      assert.ok(err instanceof SinkThreadError, `rejects with SinkThreadError, not ${String(err)}`);
      assert.equal(err.code, 'SINK_THREAD');
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      await lock.end().catch(() => undefined);
    }
    // The dead thread's connection is closed: the server rolls its transaction back (shortly after).
    let now = await snapshot(s.db);
    for (let i = 0; i < 40 && JSON.stringify(now) !== JSON.stringify(before); i++) { await new Promise((r) => setTimeout(r, 50)); now = await snapshot(s.db); }
    assert.deepEqual(now, before, 'nothing of the batch stayed');

    await s.writer.apply(batch);
    assert.notEqual(s.writer.thread!.threadId, firstThread, 'a new thread');
    await s.writer.apply(batch); // again: the mark makes it a no-op
    const users = await s.db.rows('SELECT id, uploaded FROM users ORDER BY id');
    assert.deepEqual(users.map((u) => Number(u['uploaded'])), [1100, 1070]);
    const [t10] = await s.db.rows('SELECT seeders, leechers FROM torrents WHERE id = 10');
    assert.deepEqual([Number(t10!['seeders']), Number(t10!['leechers'])], [1, 1]);
    const unregistered = await s.db.rows('SELECT user_id, HEX(info_hash) AS ih FROM unregistered_info_hashes');
    assert.deepEqual(unregistered.map((r) => [Number(r['user_id']), r['ih']]), [[2, 'EE'.repeat(20)]], 'the pair noted before the failed batch is written by the retry');
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 3 });
  });

  it('between batches: the next call starts a new thread and applies there', async (t) => {
    const s = await setup(t, [1], [10]);
    if (s === undefined) return;
    await s.writer.open();
    await s.writer.apply({ id: 1, instance: 'a', deltas: [u3(1, 1, 10, 1, 0, { event: 'started', uploaded: 5, deltaUp: 5, creditUp: 5 })] });
    await s.writer.thread!.kill();
    assert.equal(s.writer.thread!.threadId, undefined);
    await s.writer.apply({ id: 2, instance: 'a', deltas: [u3(2, 1, 10, 1, 60, { uploaded: 25, deltaUp: 20, creditUp: 20 })] });
    assert.deepEqual(await s.writer.load('a'), { appliedThrough: 2 });
    const [u] = await s.db.rows('SELECT uploaded FROM users WHERE id = 1');
    assert.equal(Number(u!['uploaded']), 1025);
  });
});

describe('unit3d writer thread: the same rows as in place', () => {
  it('a mixed batch (extras, immune users, a stop, a snatch, a gone torrent) writes the same rows on the thread and in place', async (t) => {
    const extras = new PeerExtras();
    extras.set(siteUserKey(1), infoHashOf(10), peerIdOf(1), 'qBittorrent/4.5.2', true, T0);
    extras.set(siteUserKey(2), infoHashOf(10), peerIdOf(2), "Tr'ansmission 4", false, T0);
    const o = { extras, immune: (id: number) => id === 2 };
    const onThread = await setup(t, [1, 2, 3], [10, 11], o);
    if (onThread === undefined) return;
    const inPlace = await setup(t, [1, 2, 3], [10, 11], { ...o, thread: false });
    assert.equal(inPlace!.writer.thread, undefined);
    const deltas: StatDelta[] = [
      u3(1, 1, 10, 1, 0, { event: 'started', left: 0 }),
      u3(2, 2, 10, 2, 5, { event: 'started', left: 500 }),
      u3(3, 3, 11, 3, 9, { event: 'started', left: 100 }),
      u3(4, 2, 10, 2, 65, { event: 'completed', left: 0, uploaded: 10, downloaded: 500, deltaUp: 10, deltaDown: 500, creditUp: 20, creditDown: 0, snatch: true }),
      u3(5, 1, 10, 1, 70, { uploaded: 300, deltaUp: 300, creditUp: 300, seedTime: 70 }),
      u3(6, 3, 12, 4, 75, { event: 'started', siteTorrentId: 12, uploaded: 9, deltaUp: 9, creditUp: 9 }), // torrent 12: not in the site
      u3(7, 3, 11, 3, 80, { event: 'stopped', left: 100, baseline: null }),
    ];
    for (const s of [onThread, inPlace!]) {
      await s.writer.open();
      s.writer.noteUnregistered(3, Buffer.alloc(20, 0xab), T0 + 1000);
      await s.writer.apply({ id: 4, instance: 'a', deltas: deltas.slice(0, 4) });
      await s.writer.apply({ id: 7, instance: 'a', deltas: deltas.slice(2) }); // overlaps the mark: 3 and 4 are skipped
    }
    const a = await snapshot(onThread.db);
    const b = await snapshot(inPlace!.db);
    assert.deepEqual(a, b);
    // And they are what the deltas say (a few fields; writer.test.ts checks the rest).
    assert.deepEqual(a.history.map((h) => [Number(h['user_id']), Number(h['torrent_id']), h['agent'], Number(h['immune']), Number(h['active'])]),
      [[1, 10, 'qBittorrent/4.5.2', 0, 1], [2, 10, "Tr'ansmission 4", 1, 1], [3, 11, 'qBittorrent/4.5.2.0', 0, 0]]);
    assert.deepEqual(a.peers.map((p) => [Number(p['user_id']), Number(p['visible']), Number(p['active'])]), [[1, 1, 1], [2, 0, 1], [3, 1, 0]]);
    assert.deepEqual(a.users.map((u) => Number(u['uploaded'])), [1300, 1020, 1009]);
    assert.equal(a.unregistered.length, 1);
  });
});

describe('unit3d writer: what the announce thread reads per record', () => {
  it('agents (each once), visibility and immunity per record; nothing known: no flags', () => {
    const extras = new PeerExtras();
    extras.set(siteUserKey(1), infoHashOf(10), peerIdOf(1), 'A/1', true, T0);
    extras.set(siteUserKey(2), infoHashOf(10), peerIdOf(2), 'B/2', false, T0);
    extras.set(siteUserKey(3), infoHashOf(10), peerIdOf(3), 'A/1', false, T0);
    const deltas = [u3(1, 1, 10, 1, 0), u3(2, 2, 10, 2, 0), u3(3, 3, 10, 3, 0), u3(4, 4, 10, 4, 0), u3(5, 1, 10, 1, 1)];
    const records = Buffer.alloc(deltas.length * RECORD_SIZE);
    deltas.forEach((d, i) => encodeRecordInto(d, records, i * RECORD_SIZE));
    const flags = new Uint32Array(deltas.length);
    const asked: number[] = [];
    const agents = describeRecords(records, flags, extras, { immune: (id) => { asked.push(id); return id === 2 || id === 4; } });
    assert.deepEqual(agents, ['A/1', 'B/2']);
    const read = [...flags].map((f) => ({
      extra: (f & SIDE_EXTRA) !== 0, visible: (f & SIDE_VISIBLE) !== 0, immune: (f & SIDE_IMMUNE) !== 0, agent: (f & SIDE_EXTRA) !== 0 ? agents[sideAgentIndex(f)] : undefined,
    }));
    assert.deepEqual(read, [
      { extra: true, visible: true, immune: false, agent: 'A/1' },
      { extra: true, visible: false, immune: true, agent: 'B/2' },
      { extra: true, visible: false, immune: false, agent: 'A/1' },
      { extra: false, visible: false, immune: true, agent: undefined },
      { extra: true, visible: true, immune: false, agent: 'A/1' },
    ]);
    assert.deepEqual(asked, [1, 2, 3, 4], 'the site state is asked once per user of the batch');
  });
});
