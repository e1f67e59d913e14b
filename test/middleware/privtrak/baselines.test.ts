import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BaselineStore } from '../../../src/middleware/privtrak/baselines.js';

const key = (user: number, n: number) => BaselineStore.key(Buffer.alloc(16, user), Buffer.alloc(20, n & 0xff), Buffer.from(`-qB4520-${String(n).padStart(12, '0')}`));

describe('baseline store', () => {
  it('stores, replaces and deletes exactly, reusing slots, and counts users', () => {
    const s = new BaselineStore(7);
    const model = new Map<string, { uploaded: number; downloaded: number; left: number; lastMs: number }>();
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 48271) % 2147483647; return seed % n; };
    for (let step = 0; step < 20_000; step++) {
      const k = key(rnd(5), rnd(3000));
      if (rnd(4) === 0) {
        s.delete(k);
        model.delete(k);
      } else {
        const b = { uploaded: rnd(1e9) * 1e6, downloaded: Number.MAX_SAFE_INTEGER - rnd(10), left: rnd(100), lastMs: 1_700_000_000_000 + step };
        s.set(k, b);
        model.set(k, b);
      }
    }
    assert.equal(s.size, model.size);
    for (const [k, b] of model) assert.deepEqual(s.get(k), b);
    assert.deepEqual(new Map(s.entries()), model, 'every entry once, through the shards');
    assert.equal(s.users, new Set([...model.keys()].map((k) => k.slice(0, 16))).size);
    assert.equal(s.get(key(9, 9)), undefined);
  });

  it('collects one shard at a time, any mix of expired and live entries', () => {
    const s = new BaselineStore(4);
    const expired = (i: number) => i % 2 === 0 || i < 10 || i > 990;
    for (let i = 0; i < 1000; i++) s.set(key(i % 3, i), { uploaded: i, downloaded: 0, left: 0, lastMs: expired(i) ? 100 : 5000 });
    let removed = 0;
    for (let shard = 0; shard < 4; shard++) removed += s.collectShard(shard, 1000);
    const live = [...s.entries()];
    assert.equal(removed + live.length, 1000);
    assert.ok(live.every(([, b]) => b.lastMs === 5000));
    assert.equal(live.length, Array.from({ length: 1000 }, (_, i) => i).filter((i) => !expired(i)).length);
    assert.equal(s.countSeenSince(1000), live.length, 'freed slots never count as seen');
    assert.equal(s.countSeenSince(5001), 0);
    // Freed slots are reused and nothing old shows through.
    for (let i = 0; i < 600; i++) s.set(key(7, 10_000 + i), { uploaded: 1, downloaded: 2, left: 3, lastMs: 6000 });
    assert.equal(s.size, live.length + 600);
    assert.equal([...s.entries()].length, s.size);
  });
});
