/**
 * The view's peers as the library picks them: a list no longer than numWant comes whole (one
 * HVALS of <peer_id><compact> records, the announcer's record cut out), a longer one at random
 * (HRANDFIELD). Either way: never the announcer, no peer twice, each peer's address as stored,
 * both families (records of 26 and 38 bytes).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { ManualClock } from '../../../src/clock.js';
import type { Peer } from '../../../src/bittorrent/types.js';
import { peer } from '../peer-store-suite.js';
import { dropPrefix, freshPrefix, redisConfig, redisUrlOrSkip } from '../../support/redis.js';

const prefixes: string[] = [];
let url: string | undefined;
after(async () => {
  if (url !== undefined) for (const p of prefixes) await dropPrefix(url, p);
});

const ih = Buffer.alloc(20, 0x31);
const key = (p: Peer) => `${p.id.toString('latin1')}|${p.compact.toString('hex')}`;

async function store(t: { after(fn: () => Promise<void>): void }, u: string): Promise<RedisPeerStore> {
  const prefix = freshPrefix();
  prefixes.push(prefix);
  const s = new RedisPeerStore({ config: redisConfig(u, prefix), clock: new ManualClock(1_700_000_000_000) });
  await s.start();
  t.after(() => s.stop());
  return s;
}

describe('Redis store: the view\'s peers', () => {
  for (const [family, ip] of [[4, '10.1.2.3'], [6, '2001:db8::7']] as const) {
    it(`IPv${family}: a whole small list without the announcer, a random part of a long one`, async (t) => {
      url = await redisUrlOrSkip(t);
      if (url === undefined) return;
      const s = await store(t, url);
      const leechers = Array.from({ length: 12 }, (_, i) => peer(i, ip, 2000 + i));
      for (const p of leechers) await s.putLeecher(ih, p);
      const all = new Set(leechers.map(key));
      // numWant above the list: all 11 others, each once, as stored.
      const whole = await s.announceView(ih, leechers[3]!, 'leecher', 50);
      assert.equal(whole.peers.length, 11);
      assert.deepEqual(new Set([...whole.peers].map(key)), new Set(leechers.filter((_, i) => i !== 3).map(key)));
      assert.ok([...whole.peers].every((p) => p.family === family));
      // numWant below it: exactly numWant distinct others, never the announcer.
      for (let round = 0; round < 10; round++) {
        const part = await s.announceView(ih, leechers[0]!, 'leecher', 5);
        const got = [...part.peers].map(key);
        assert.equal(got.length, 5);
        assert.equal(new Set(got).size, 5, 'no peer twice');
        assert.ok(got.every((k) => all.has(k) && k !== key(leechers[0]!)));
      }
      // Exactly as many as wanted, the announcer among them (size = numWant + 1): the others.
      const exact = await s.announceView(ih, leechers[5]!, 'leecher', 11);
      assert.equal(exact.peers.length, 11);
      assert.ok(![...exact.peers].some((p) => p.id.equals(leechers[5]!.id)));
    });
  }

  it('leaves the announcer out by its peer_id even when it now comes from another address', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const s = await store(t, url);
    for (let i = 0; i < 4; i++) await s.putSeeder(ih, peer(i, '10.0.0.9', 3000 + i));
    const moved = peer(2, '10.9.9.9', 4444);
    const view = await s.announceView(ih, moved, 'leecher', 50);
    assert.deepEqual([...view.peers].map((p) => p.id.toString('latin1')).sort(), [0, 1, 3].map((i) => peer(i).id.toString('latin1')).sort());
    // A leecher gets seeders first, then leechers, up to numWant.
    await s.putLeecher(ih, peer(10, '10.0.0.9', 3010));
    const view2 = await s.announceView(ih, peer(11, '10.0.0.9', 3011), 'leecher', 5);
    assert.equal(view2.peers.length, 5);
    assert.deepEqual([...view2.peers].slice(0, 4).map((p) => p.port).sort(), [3000, 3001, 3002, 3003]);
    assert.equal(view2.peers.at(4)!.port, 3010);
  });
});
