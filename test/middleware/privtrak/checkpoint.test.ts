import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE, readCheckpoint, writeCheckpoint } from '../../../src/middleware/privtrak/checkpoint.js';
import { BaselineStore } from '../../../src/middleware/privtrak/baselines.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'privtrak-ckpt-'));
  dirs.push(d);
  return d;
}

function key(user: number, ih: number, peer: number): Buffer {
  return BaselineStore.key(Buffer.alloc(16, user), Buffer.alloc(20, ih), Buffer.from(`-qB4520-${String(peer).padStart(12, '0')}`));
}

describe('baseline checkpoint', () => {
  it('round-trips every baseline exactly (binary keys, counters up to 2^53 - 1), leaving out expired ones', async () => {
    const dir = freshDir();
    const store = new BaselineStore(8);
    const max = Number.MAX_SAFE_INTEGER;
    const expected = new Map<string, { uploaded: number; downloaded: number; left: number; lastMs: number }>(); // by hex key
    for (let i = 0; i < 1000; i++) {
      const k = key(i % 5, i % 256, i);
      const b = { uploaded: i === 7 ? max : i * 1000, downloaded: i === 8 ? max : i, left: i % 3 === 0 ? 0 : 2 ** 40 + i, lastMs: 1_000_000 + i };
      store.set(k, b);
      if (b.lastMs >= 1_000_100) expected.set(k.toString('hex'), b);
    }
    assert.equal(await writeCheckpoint(dir, 4242, store, { fsync: true, sinceMs: 1_000_100 }), true);
    assert.equal(existsSync(join(dir, `${CHECKPOINT_FILE}.tmp`)), false);
    const back = readCheckpoint(dir)!;
    assert.equal(back.seq, 4242);
    assert.equal(back.entries.length, 900);
    assert.deepEqual(new Map(back.entries.map((e) => [e.key.toString('hex'), e.baseline])), expected);
  });

  it('has none before the first write; a checkpoint called off keeps the previous one', async () => {
    const dir = freshDir();
    assert.equal(readCheckpoint(dir), undefined);
    const store = new BaselineStore(4);
    store.set(key(1, 1, 1), { uploaded: 1, downloaded: 2, left: 3, lastMs: 4 });
    await writeCheckpoint(dir, 10, store, { fsync: false, sinceMs: 0 });
    store.set(key(2, 2, 2), { uploaded: 5, downloaded: 6, left: 7, lastMs: 8 });
    let turns = 0;
    assert.equal(await writeCheckpoint(dir, 20, store, { fsync: false, sinceMs: 0, stillValid: () => ++turns < 2 }), false);
    assert.equal(existsSync(join(dir, `${CHECKPOINT_FILE}.tmp`)), false, 'the abandoned file is removed');
    const back = readCheckpoint(dir)!;
    assert.equal(back.seq, 10);
    assert.deepEqual(back.entries.map((e) => e.key), [key(1, 1, 1)]);
  });

  it('is written in slices of loop time, pausing inside a shard; a change made during a pause is in the file', async () => {
    // One shard of 2,000 baselines: a shard per turn would hold the loop for all of them at once.
    // The clock moves 0.1 ms per reading and the slicer reads it every 64 entries, so a 0.5 ms
    // slice is ~320 entries, and 2,000 entries take at least 6 slices.
    const dir = freshDir();
    const store = new BaselineStore(1);
    for (let i = 0; i < 2000; i++) store.set(key(1, 1, i), { uploaded: i, downloaded: 0, left: 0, lastMs: 1 });
    let t = 0;
    let turns = 0;
    const clock = {
      now: () => (t += 0.1),
      turn: async () => {
        turns++;
        // Between slices the tracker goes on: an announce updates a baseline the walk has not reached yet.
        if (turns === 1) store.set(key(1, 1, 1999), { uploaded: 77_777, downloaded: 1, left: 0, lastMs: 2 });
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
      sleep: async () => {},
    };
    let checks = 0;
    assert.equal(await writeCheckpoint(dir, 5, store, { fsync: false, sinceMs: 0, clock, stillValid: () => (checks++, true) }), true);
    assert.ok(turns >= 6, `${turns} pauses in one shard of 2,000`);
    assert.ok(checks >= turns, 'stillValid is asked after every pause');
    const back = readCheckpoint(dir)!;
    assert.equal(back.entries.length, 2000);
    const last = back.entries.find((e) => e.key.equals(key(1, 1, 1999)))!;
    assert.deepEqual(last.baseline, { uploaded: 77_777, downloaded: 1, left: 0, lastMs: 2 });
  });

  it('refuses a truncated or foreign file instead of restoring part of it', async () => {
    const dir = freshDir();
    const store = new BaselineStore(2);
    for (let i = 0; i < 10; i++) store.set(key(1, i, i), { uploaded: i, downloaded: 0, left: 0, lastMs: 1 });
    await writeCheckpoint(dir, 1, store, { fsync: false, sinceMs: 0 });
    const path = join(dir, CHECKPOINT_FILE);
    const whole = readFileSync(path);
    truncateSync(path, whole.length - 88);
    assert.throws(() => readCheckpoint(dir), /truncated or damaged/);
    writeFileSync(path, Buffer.alloc(64, 7));
    assert.throws(() => readCheckpoint(dir), /not a privtrak baseline checkpoint/);
  });
});
