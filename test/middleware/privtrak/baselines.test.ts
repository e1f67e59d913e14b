import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BaselineStore } from '../../../src/middleware/privtrak/baselines.js';

const key = (user: number, n: number) => BaselineStore.key(Buffer.alloc(16, user), Buffer.alloc(20, n & 0xff), Buffer.from(`-qB4520-${String(n).padStart(12, '0')}`));
type B = { uploaded: number; downloaded: number; left: number; lastMs: number };

describe('baseline store', () => {
  it('stores, replaces and deletes exactly, reusing slots, and counts users', () => {
    const s = new BaselineStore(7);
    const model = new Map<string, B>(); // by hex key
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 48271) % 2147483647; return seed % n; };
    // Enough keys to grow the index and the counters several times; deletes in between.
    for (let step = 0; step < 40_000; step++) {
      const k = key(rnd(5), rnd(6000));
      if (rnd(4) === 0) {
        s.delete(k);
        model.delete(k.toString('hex'));
      } else {
        const b = { uploaded: rnd(1e9) * 1e6, downloaded: Number.MAX_SAFE_INTEGER - rnd(10), left: rnd(100), lastMs: 1_700_000_000_000 + step };
        s.set(k, b);
        model.set(k.toString('hex'), b);
      }
      if (step % 5000 === 0) assert.equal(s.size, model.size);
    }
    assert.equal(s.size, model.size);
    for (const [k, b] of model) assert.deepEqual(s.get(Buffer.from(k, 'hex')), b);
    const entries = [...s.entries()].map(([k, b]) => [k.toString('hex'), b] as const);
    assert.equal(entries.length, model.size, 'every entry once, through the shards');
    assert.deepEqual(new Map(entries), model);
    assert.equal(s.users, new Set([...model.keys()].map((k) => k.slice(0, 32))).size);
    assert.equal(s.get(key(9, 9)), undefined);
  });

  it('looks peers up by their three ids, the same entries as by key', () => {
    const s = new BaselineStore(4);
    const user = Buffer.alloc(16, 1);
    const ih = Buffer.alloc(20, 2);
    const peerA = Buffer.from('-qB4520-aaaaaaaaaaaa');
    const peerB = Buffer.from('-qB4520-bbbbbbbbbbbb');
    assert.equal(s.slotOf(user, ih, peerA), -1);
    s.update(user, ih, peerA, -1, { uploaded: 1, downloaded: 2, left: 3, lastMs: 4 });
    const slot = s.slotOf(user, ih, peerA);
    assert.ok(slot >= 0);
    assert.equal(s.slotOf(user, ih, peerB), -1, 'another client of the same user on the same torrent is another peer');
    s.update(user, ih, peerA, slot, { uploaded: 10, downloaded: 20, left: 0, lastMs: 40 });
    assert.equal(s.slotOf(user, ih, peerA), slot, 'an update keeps the slot');
    assert.deepEqual(s.get(BaselineStore.key(user, ih, peerA)), { uploaded: 10, downloaded: 20, left: 0, lastMs: 40 });
    // Ids that are views into a larger buffer (how the UDP frontend hands them over) find the same peer.
    const packet = Buffer.concat([Buffer.alloc(3), user, ih, peerA]);
    assert.equal(s.slotOf(packet.subarray(3, 19), packet.subarray(19, 39), packet.subarray(39, 59)), slot);
    assert.equal(s.users, 1);
    s.update(user, ih, peerA, slot, null);
    assert.equal(s.slotOf(user, ih, peerA), -1);
    assert.equal(s.size, 0);
    assert.equal(s.users, 0, 'a user with no baseline left is no longer tracked');
  });

  it('keeps each user and torrent once, frees them with their last peer, and gives reused slots to others without a mix-up', () => {
    const s = new BaselineStore(3);
    const user = (n: number) => Buffer.alloc(16, 0).fill(n & 0xff, 0, 8).fill((n >> 8) + 1, 8);
    const torrent = (n: number) => Buffer.alloc(20, 0).fill(n & 0xff, 0, 10).fill((n >> 8) + 7, 10);
    const peer = (n: number) => Buffer.from(`-TR4050-${String(n).padStart(12, '0')}`);
    const model = new Map<string, B>();
    let seed = 5;
    const rnd = (n: number) => { seed = (seed * 48271) % 2147483647; return seed % n; };
    // Waves: many users and torrents with few peers each, most removed again, so user and torrent
    // slots are freed and taken over by other users and torrents many times.
    for (let wave = 0; wave < 12; wave++) {
      for (let i = 0; i < 3000; i++) {
        const k = BaselineStore.key(user(wave * 40 + rnd(60)), torrent(wave * 30 + rnd(50)), peer(rnd(4)));
        const b = { uploaded: wave * 1e12 + i, downloaded: i, left: rnd(3), lastMs: wave };
        s.set(k, b);
        model.set(k.toString('hex'), b);
      }
      for (const k of [...model.keys()]) {
        if (rnd(10) < 8) {
          s.delete(Buffer.from(k, 'hex'));
          model.delete(k);
        }
      }
      assert.equal(s.size, model.size, `wave ${wave}`);
      assert.equal(s.users, new Set([...model.keys()].map((k) => k.slice(0, 32))).size, `users after wave ${wave}`);
    }
    for (const [k, b] of model) assert.deepEqual(s.get(Buffer.from(k, 'hex')), b);
    // Every key comes back whole: the user and torrent its slots stand for, then its peer_id.
    assert.deepEqual(new Map([...s.entries()].map(([k, b]) => [k.toString('hex'), b])), model);
    // A user (or torrent) whose last peer went is unknown again, even where another peer of it was once.
    for (const k of model.keys()) s.delete(Buffer.from(k, 'hex'));
    assert.equal(s.size, 0);
    assert.equal(s.users, 0);
    assert.equal(s.slotOf(user(1), torrent(1), peer(1)), -1);
    assert.deepEqual([...s.entries()], []);
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
    for (const [k] of live) assert.ok(s.get(k), 'the live entries survive the reuse');
  });
});
