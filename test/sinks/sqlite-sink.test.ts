import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { SqliteSink, WAL_AUTOCHECKPOINT_PAGES } from '../../src/sinks/sqlite-sink.js';
import { SQLITE_WORKER_YOUNG_GENERATION_MB, SqliteWorkerSink } from '../../src/sinks/sqlite-worker-sink.js';
import { encodeRecordInto, RECORD_SIZE } from '../../src/accounting/delta-record.js';
import { createSink, sinkOptionsSchema } from '../../src/sinks/index.js';
import { runSinkSuite, delta, USER_A } from './sink-suite.js';
import { SCHEMA_VERSION, SQLITE_CLUSTERED_TABLES, schemaStatements } from '../../src/sinks/sql-schema.js';
import { FencedError } from '../../src/sinks/sink-errors.js';
import type { DeltaSink } from '../../src/sinks/sink.js';

const dir = mkdtempSync(join(tmpdir(), 'privtrak-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `s${n++}`, 'nested', 'privtrak.sqlite');

const suiteDir = join(dir, 'suite');
/** A 15-byte user id violates the schema's CHECK halfway through the batch (after USER_A's rows were written). */
const atomicFailure = async (sink: DeltaSink): Promise<void> => {
  await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 100 }), delta(3, { user: USER_A.subarray(1) })] }), /CHECK/);
};
runSinkSuite('sqlite', async () => {
  const sink = new SqliteSink({ path: join(suiteDir, `s${n++}.sqlite`), deltaLog: true });
  await sink.open();
  return sink;
}, () => rmSync(suiteDir, { recursive: true, force: true }), {
  atomicFailure,
});

runSinkSuite('sqlite on a worker thread', async () => {
  const sink = new SqliteWorkerSink({ path: join(suiteDir, `w${n++}.sqlite`), deltaLog: true });
  await sink.open();
  return sink;
}, () => rmSync(suiteDir, { recursive: true, force: true }), { atomicFailure });

/** A batch as the tracker sends it: journal records, `count` deltas of 10 bytes up for USER_A over 100 torrents. */
function recordBatch(first: number, count: number) {
  const records = Buffer.alloc(count * RECORD_SIZE);
  for (let i = 0; i < count; i++) {
    const ih = Buffer.alloc(20);
    ih.writeUInt32BE(i % 100, 16);
    encodeRecordInto(delta(first + i, { infoHash: ih, deltaUp: 10, creditUp: 10 }), records, i * RECORD_SIZE);
  }
  return { id: first + count - 1, instance: 'a', records, deltas: [] };
}

describe('sqlite sink on a worker thread', () => {
  it('applies batches of journal records off the tracker\'s thread: the event loop keeps turning while a batch is written', async () => {
    const sink = new SqliteWorkerSink({ path: freshPath() });
    await sink.open();
    try {
      let turns = 0;
      let counting = true;
      const tick = () => {
        turns++;
        if (counting) setImmediate(tick);
      };
      setImmediate(tick);
      await sink.apply(recordBatch(1, 20_000));
      counting = false;
      assert.ok(turns > 0, 'the main thread ran while the worker applied the batch');
      const [row] = await sink.totals({ byTorrent: false });
      assert.equal(row!.uploaded, 200_000n);
      assert.ok(Buffer.isBuffer(row!.user) && row!.user.equals(USER_A), 'rows come back with Buffers');
      assert.equal((await sink.totals({ byTorrent: true, user: USER_A })).length, 100);
    } finally {
      await sink.close();
    }
    // The in-process sink, for contrast: its apply holds the thread until the batch is written.
    const inline = new SqliteSink({ path: freshPath() });
    await inline.open();
    let turns = 0;
    setImmediate(() => turns++);
    const applying = inline.apply(recordBatch(1, 20_000));
    assert.equal(turns, 0);
    await applying;
    await inline.close();
  });

  it('moves each batch\'s memory back from the worker and reuses it, whatever the next batch\'s size', async () => {
    const sink = new SqliteWorkerSink({ path: freshPath() });
    await sink.open();
    const room = () => (sink as unknown as { thread: { room: ArrayBuffer | undefined } }).thread.room;
    try {
      let first = 1;
      let expected = 0n;
      // Large, small, larger, small: a room too small is replaced, a large one serves smaller batches.
      for (const count of [3000, 7, 5000, 1]) {
        const batch = recordBatch(first, count);
        const before = room();
        await sink.apply(batch);
        assert.equal(batch.records.length, count * RECORD_SIZE, 'the caller\'s records are copied, never moved away');
        first += count;
        expected += BigInt(count) * 10n;
        assert.equal((await sink.totals({ byTorrent: false }))[0]!.uploaded, expected);
        assert.ok(room()!.byteLength >= count * RECORD_SIZE);
        if (before !== undefined && before.byteLength >= count * RECORD_SIZE) {
          assert.equal(room()!.byteLength, before.byteLength, 'the same memory came back');
        }
      }
      assert.equal(room()!.byteLength, 5000 * RECORD_SIZE);
      assert.equal((await sink.load('a')).appliedThrough, first - 1);
    } finally {
      await sink.close();
    }
  });

  it('runs its worker, and a replacement after a death, with a young generation that holds a batch\'s rows', async () => {
    const sink = new SqliteWorkerSink({ path: freshPath() });
    // The limits the running worker was given, as V8 reports them back.
    const youngMb = () => (sink as unknown as { thread: { worker: { resourceLimits: { maxYoungGenerationSizeMb: number } } | undefined } })
      .thread.worker?.resourceLimits.maxYoungGenerationSizeMb;
    try {
      await sink.open();
      await sink.apply(recordBatch(1, 100));
      // At 4 MB a 10,000-row batch's rows were promoted and swept by old-generation collections
      // (bench/sqlite-floor.mjs: 1.2 µs per delta more); 16 MB is where that cost was gone.
      assert.ok(SQLITE_WORKER_YOUNG_GENERATION_MB >= 16);
      assert.equal(youngMb(), SQLITE_WORKER_YOUNG_GENERATION_MB);
      await sink.kill();
      assert.equal(youngMb(), undefined, 'no worker runs after the death');
      await sink.apply(recordBatch(101, 100));
      assert.equal(youngMb(), SQLITE_WORKER_YOUNG_GENERATION_MB, 'the replacement has the same limits');
      assert.equal((await sink.load('a')).appliedThrough, 200);
    } finally {
      await sink.close();
    }
  });

  it('rejects the calls in flight when the worker dies, and the next call starts a new worker on the same database', async () => {
    const path = freshPath();
    const sink = new SqliteWorkerSink({ path });
    await sink.open();
    try {
      await sink.apply(recordBatch(1, 10));
      const inFlight = sink.apply(recordBatch(11, 10));
      await sink.kill();
      await assert.rejects(inFlight, /sqlite worker exited/);
      // The flusher retries the same batch: applied once (or skipped if the dead worker had committed it).
      await sink.apply(recordBatch(11, 10));
      assert.equal((await sink.load('a')).appliedThrough, 20);
      assert.equal((await sink.totals({ byTorrent: false }))[0]!.uploaded, 200n);
    } finally {
      await sink.close();
    }
  });
});

describe('sqlite sink', () => {
  it('creates its directory and schema on open, records version 2, and reopens', async () => {
    const path = freshPath();
    const sink = new SqliteSink({ path });
    await sink.open();
    await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 9 })] });
    await sink.migrate(); // idempotent
    await sink.close();
    assert.ok(existsSync(path));
    const again = new SqliteSink({ path });
    await again.open();
    assert.equal((await again.totals({ byTorrent: false }))[0]!.uploaded, 9n);
    await again.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT version FROM privtrak_schema_version').all(), [{ version: SCHEMA_VERSION }]);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.prepare('SELECT count(*) FROM privtrak_delta_log').pluck().get(), 0, 'no delta log unless asked');
    } finally {
      db.close();
    }
  });

  it('upgrades a schema 2 file (no privtrak_fences) on open, keeping its totals; the worker sink refuses a stale fence with FencedError', async () => {
    const path = freshPath();
    const old = new SqliteSink({ path });
    await old.open();
    await old.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 5 })] });
    await old.close();
    const db = new Database(path);
    db.exec('DROP TABLE privtrak_fences; DELETE FROM privtrak_schema_version; INSERT INTO privtrak_schema_version (version) VALUES (2)');
    assert.equal(schemaStatements('sqlite').filter((sql) => sql.includes('privtrak_fences')).length, 1);
    db.close();
    const sink = new SqliteWorkerSink({ path });
    await sink.open();
    try {
      await sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 7 })], fence: { name: 'drain', token: 2 } });
      await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { deltaUp: 9 })], fence: { name: 'drain', token: 1 } }),
        (err: unknown) => err instanceof FencedError && err.fence?.recorded === 2);
      assert.equal((await sink.totals({ byTorrent: false }))[0]!.uploaded, 12n);
    } finally {
      await sink.close();
    }
    const after = new Database(path, { readonly: true });
    try {
      assert.deepEqual(after.prepare('SELECT version FROM privtrak_schema_version ORDER BY 1').pluck().all(), [2, 3]);
    } finally {
      after.close();
    }
  });

  it('keeps the totals tables WITHOUT ROWID, and rebuilds a file\'s rowid tables so on open, rows unchanged', async () => {
    const tables = SQLITE_CLUSTERED_TABLES;
    const layout = (db: Database.Database) => tables.map((t) =>
      /WITHOUT ROWID\s*$/i.test(db.prepare("SELECT sql FROM sqlite_master WHERE name = ?").pluck().get(t) as string));
    // A new file: clustered from the start.
    const fresh = freshPath();
    const sink = new SqliteSink({ path: fresh });
    await sink.open();
    await sink.close();
    const f = new Database(fresh, { readonly: true });
    assert.deepEqual(layout(f), [true, true]);
    f.close();

    // A file as privtrak wrote it before: rowid tables (and their key indexes), schema 3, rows with
    // counts beyond 2^53, a null site torrent id and a snatch.
    const path = freshPath();
    const maker = new SqliteSink({ path });
    await maker.migrate();
    await maker.close();
    const db = new Database(path);
    db.defaultSafeIntegers(true);
    for (const t of tables) db.exec(`DROP TABLE ${t}`);
    for (const sql of schemaStatements('sqlite')) db.exec(sql.replace(/\s*WITHOUT ROWID$/, ''));
    assert.deepEqual(layout(db), [false, false]);
    const big = 2n ** 60n + 7n;
    const ih = (b: number) => Buffer.alloc(20, b);
    db.prepare(`INSERT INTO privtrak_torrent_stats VALUES (?, ?, ?, 2, 3, 4, 42, 5, 6, 1, 100, 200), (?, ?, 1, 1, 1, 1, NULL, 0, 0, 0, 300, 300)`)
      .run(USER_A, ih(1), big, USER_A, ih(2));
    db.prepare('INSERT INTO privtrak_user_stats VALUES (?, ?, 3, 5, 5, 5, 6, 100, 300)').run(USER_A, big + 1n);
    const rows = () => [
      db.prepare('SELECT * FROM privtrak_torrent_stats ORDER BY user_id, info_hash').all(),
      db.prepare('SELECT * FROM privtrak_user_stats ORDER BY user_id').all(),
    ];
    const before = rows();
    db.close();

    const upgraded = new SqliteSink({ path });
    await upgraded.open();
    await upgraded.apply({ id: 1, instance: 'a', deltas: [delta(1, { infoHash: ih(2), deltaUp: 10, creditUp: 10 })] });
    await upgraded.migrate(); // idempotent: already clustered
    assert.equal((await upgraded.totals({ byTorrent: true })).find((r) => r.infoHash!.equals(ih(2)))!.uploaded, 11n, 'new deltas add onto the copied rows');
    await upgraded.close();
    const after = new Database(path);
    after.defaultSafeIntegers(true);
    try {
      assert.deepEqual(layout(after), [true, true]);
      const [torrents, users] = [
        after.prepare('SELECT * FROM privtrak_torrent_stats ORDER BY user_id, info_hash').all() as Array<Record<string, unknown>>,
        after.prepare('SELECT * FROM privtrak_user_stats ORDER BY user_id').all() as Array<Record<string, unknown>>,
      ];
      assert.deepEqual(torrents[0], (before[0] as unknown[])[0], 'an untouched row is copied exactly (2^60 + 7 stays exact)');
      assert.equal(torrents.length, 2);
      assert.equal(torrents[1]!['uploaded'], 11n);
      assert.equal(users[0]!['uploaded'], big + 1n + 10n);
      assert.deepEqual(after.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%clustered%' OR name LIKE 'sqlite_autoindex_privtrak_%_stats%'").pluck().all(), [],
        'no copy and no key index left behind');
      assert.equal(after.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      after.close();
    }
  });

  it('writes the delta log only for applied deltas when delta_log is on', async () => {
    const path = freshPath();
    const sink = new SqliteSink({ path, deltaLog: true });
    await sink.open();
    await sink.apply({ id: 2, instance: 'a', deltas: [delta(1, { deltaUp: 5, event: 'started' }), delta(2, { snatch: true, event: 'completed' })] });
    await sink.apply({ id: 3, instance: 'a', deltas: [delta(2), delta(3, { flags: 2 })] });
    await sink.close();
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare('SELECT instance, seq, event, delta_up, snatch, flags, hex(user_id) AS user FROM privtrak_delta_log ORDER BY seq').all();
      assert.deepEqual(rows, [
        { instance: 'a', seq: 1, event: 'started', delta_up: 5, snatch: 0, flags: 0, user: USER_A.toString('hex').toUpperCase() },
        { instance: 'a', seq: 2, event: 'completed', delta_up: 0, snatch: 1, flags: 0, user: USER_A.toString('hex').toUpperCase() },
        { instance: 'a', seq: 3, event: 'none', delta_up: 0, snatch: 0, flags: 2, user: USER_A.toString('hex').toUpperCase() },
      ]);
    } finally {
      db.close();
    }
  });

  it('lets the WAL grow past SQLite\'s default 1,000 pages before a commit checkpoints it (WAL_AUTOCHECKPOINT_PAGES)', async () => {
    const path = freshPath();
    const sink = new SqliteSink({ path });
    await sink.open();
    // A second connection reads how many frames the WAL holds (a PASSIVE checkpoint reports them,
    // and copies nothing back while the count is read at the end).
    const walFrames = () => {
      const peek = new Database(path);
      try {
        return (peek.pragma('wal_checkpoint(PASSIVE)') as Array<{ log: number }>)[0]!.log;
      } finally {
        peek.close();
      }
    };
    // The same 3,000 rows every batch: each commit rewrites the same pages, so batches are alike.
    const pairs = Array.from({ length: 3000 }, () => ({ user: randomBytes(16), infoHash: randomBytes(20) }));
    let seq = 0;
    const batch = () => {
      const deltas = pairs.map((p) => delta(++seq, { ...p, baseline: null }));
      return { id: seq, instance: 'a', deltas };
    };
    await sink.apply(batch()); // inserts
    await sink.apply(batch()); // updates, like every later one
    const perBatch = walFrames() / 2;
    // After a checkpoint the next commit starts the WAL over; with SQLite's default (1,000 pages) it
    // would never hold more than 1,000 frames and one batch.
    assert.ok(perBatch > 20 && perBatch < 500, `one batch wrote ${perBatch} WAL frames`);
    const batches = Math.ceil(2500 / perBatch);
    for (let i = 0; i < batches; i++) await sink.apply(batch());
    const frames = walFrames();
    assert.ok(frames > 1000 + perBatch, `the WAL holds ${frames} frames after ${batches + 2} batches of about ${perBatch}: no checkpoint at 1,000`);
    assert.ok(WAL_AUTOCHECKPOINT_PAGES >= 2 * frames, 'the test stays below the configured threshold');
    await sink.close();
  });

  it('rejects apply once closed, storing nothing', async () => {
    const path = freshPath();
    const sink = new SqliteSink({ path });
    await sink.open();
    await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 1 })] });
    await sink.close();
    await assert.rejects(sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 1 })] }), /not open/);
    await sink.open();
    assert.equal((await sink.totals({ byTorrent: false }))[0]!.uploaded, 1n);
    assert.equal((await sink.load('a')).appliedThrough, 1);
    await sink.close();
  });

  it('is built by createSink from the `sink:` options, with the embedded default', async () => {
    assert.deepEqual(sinkOptionsSchema.parse({ name: 'sqlite' }), { name: 'sqlite', path: './data/privtrak.sqlite', delta_log: false, durable: false, worker: true });
    const opts = sinkOptionsSchema.parse({ name: 'sqlite', path: freshPath(), delta_log: true });
    const sink = createSink(opts);
    assert.ok(sink instanceof SqliteWorkerSink, 'on a worker thread by default');
    assert.equal(sink.name, 'sqlite');
    await sink.open();
    await sink.close();
    assert.ok(createSink(sinkOptionsSchema.parse({ name: 'sqlite', path: freshPath(), worker: false })) instanceof SqliteSink);
  });
});
