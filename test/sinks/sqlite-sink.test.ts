import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteSink } from '../../src/sinks/sqlite-sink.js';
import { createSink, sinkOptionsSchema } from '../../src/sinks/index.js';
import { runSinkSuite, delta, USER_A } from './sink-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'privtrak-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `s${n++}`, 'nested', 'privtrak.sqlite');

const suiteDir = join(dir, 'suite');
runSinkSuite('sqlite', async () => {
  const sink = new SqliteSink({ path: join(suiteDir, `s${n++}.sqlite`), deltaLog: true });
  await sink.open();
  return sink;
}, () => rmSync(suiteDir, { recursive: true, force: true }), {
  // A 15-byte user id violates the schema's CHECK halfway through the batch (after USER_A's rows were written).
  atomicFailure: async (sink) => {
    await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 100 }), delta(3, { user: USER_A.subarray(1) })] }), /CHECK/);
  },
});

describe('sqlite sink', () => {
  it('creates its directory and schema on open, records version 1, and reopens', async () => {
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
      assert.deepEqual(db.prepare('SELECT version FROM privtrak_schema_version').all(), [{ version: 1 }]);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.prepare('SELECT count(*) FROM privtrak_delta_log').pluck().get(), 0, 'no delta log unless asked');
    } finally {
      db.close();
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
    assert.deepEqual(sinkOptionsSchema.parse({ name: 'sqlite' }), { name: 'sqlite', path: './data/privtrak.sqlite', delta_log: false, durable: false });
    const opts = sinkOptionsSchema.parse({ name: 'sqlite', path: freshPath(), delta_log: true });
    const sink = createSink(opts);
    assert.equal(sink.name, 'sqlite');
    await sink.open();
    await sink.close();
  });
});
