/**
 * The conformance suite every PeerStore passes (chihaya's storage_tests.go): one line per
 * backend calls runPeerStoreSuite. Stores may be synchronous or return Promises.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerStore } from '../../src/storage/peer-store.js';
import type { Peer, SwarmRole } from '../../src/bittorrent/types.js';
import { makePeer } from '../../src/bittorrent/ip.js';
import { ManualClock } from '../../src/clock.js';

export function peer(n: number, ip = '10.0.0.1', port = 1000 + n): Peer {
  return makePeer(Buffer.from(`-PT0001-${String(n).padStart(12, '0')}`), ip, port);
}

/** The peers an announce of `announcer` as `role` is given. */
async function peersOf(store: PeerStore, ih: Buffer, announcer: Peer, role: SwarmRole, numWant: number): Promise<Peer[]> {
  return [...(await store.announceView(ih, announcer, role, numWant)).peers];
}

/** The counts an announce of `announcer` as `role` is given. */
async function countsOf(store: PeerStore, ih: Buffer, announcer: Peer, role: SwarmRole): Promise<{ complete: number; incomplete: number }> {
  const { complete, incomplete } = await store.announceView(ih, announcer, role, 0);
  return { complete, incomplete };
}

const ids = (peers: Peer[]) => peers.map((p) => p.id.toString('latin1').slice(8)).sort();

export function runPeerStoreSuite(name: string, makeStore: (clock: ManualClock) => PeerStore | Promise<PeerStore>): void {
  describe(`peer store conformance: ${name}`, () => {
    const ih = Buffer.alloc(20, 0x42);
    const setup = async () => {
      const clock = new ManualClock(1_700_000_000_000);
      return { clock, store: await makeStore(clock) };
    };

    it('gives a leecher the seeders first, then other leechers, never itself', async () => {
      const { store } = await setup();
      await store.putSeeder(ih, peer(1));
      await store.putLeecher(ih, peer(2));
      await store.putLeecher(ih, peer(3));
      assert.deepEqual(ids(await peersOf(store, ih, peer(2), 'leecher', 50)), ['000000000001', '000000000003']);
      const first = await peersOf(store, ih, peer(2), 'leecher', 1);
      assert.deepEqual(ids(first), ['000000000001'], 'seeders come first');
      await store.stop();
    });

    it('gives a seeder only leechers', async () => {
      const { store } = await setup();
      await store.putSeeder(ih, peer(1));
      await store.putSeeder(ih, peer(4));
      await store.putLeecher(ih, peer(2));
      assert.deepEqual(ids(await peersOf(store, ih, peer(1), 'seeder', 50)), ['000000000002']);
      await store.stop();
    });

    it('caps at numwant, allows 0, and returns distinct peers', async () => {
      const { store } = await setup();
      for (let i = 1; i <= 30; i++) await store.putSeeder(ih, peer(i));
      const some = await peersOf(store, ih, peer(99), 'leecher', 10);
      assert.equal(some.length, 10);
      assert.equal(new Set(ids(some)).size, 10);
      assert.equal((await peersOf(store, ih, peer(99), 'leecher', 0)).length, 0);
      assert.equal((await peersOf(store, Buffer.alloc(20, 1), peer(99), 'leecher', 10)).length, 0, 'unknown swarm');
      await store.stop();
    });

    it('keeps IPv4 and IPv6 swarms apart but counts both in scrape', async () => {
      const { store } = await setup();
      await store.putSeeder(ih, peer(1, '10.0.0.1'));
      await store.putSeeder(ih, peer(2, '2001:db8::2'));
      assert.deepEqual(ids(await peersOf(store, ih, peer(3, '10.0.0.3'), 'leecher', 50)), ['000000000001']);
      assert.deepEqual(ids(await peersOf(store, ih, peer(4, '2001:db8::4'), 'leecher', 50)), ['000000000002']);
      assert.deepEqual(await store.scrapeSwarm(ih), { complete: 2, incomplete: 0, downloaded: 0 });
      await store.stop();
    });

    it('moves a peer between lists, deletes it, and graduates a leecher with one download counted', async () => {
      const { store } = await setup();
      await store.putLeecher(ih, peer(1));
      await store.putSeeder(ih, peer(1));
      assert.deepEqual(await store.scrapeSwarm(ih), { complete: 1, incomplete: 0, downloaded: 0 });
      await store.putLeecher(ih, peer(2));
      await store.graduateLeecher(ih, peer(2));
      assert.deepEqual(await store.scrapeSwarm(ih), { complete: 2, incomplete: 0, downloaded: 1 });
      await store.deleteSeeder(ih, peer(1));
      await store.deleteSeeder(ih, peer(2));
      assert.deepEqual(await store.scrapeSwarm(ih), { complete: 0, incomplete: 0, downloaded: 1 }, 'downloads outlive the swarm');
      await store.deleteLeecher(ih, peer(7));
      assert.deepEqual(await store.stats(), { swarms: 0, seeders: 0, leechers: 0 });
      await store.stop();
    });

    it('counts the announcer as its announce leaves it: new, moving between lists, stopping', async () => {
      const { store } = await setup();
      const empty = Buffer.alloc(20, 0x43);
      assert.deepEqual(await countsOf(store, empty, peer(1), 'seeder'), { complete: 1, incomplete: 0 }, 'the first seeder counts itself');
      assert.deepEqual(await countsOf(store, empty, peer(1), 'gone'), { complete: 0, incomplete: 0 });
      await store.putSeeder(ih, peer(1));
      assert.deepEqual(await countsOf(store, ih, peer(2), 'leecher'), { complete: 1, incomplete: 1 }, 'a new leecher beside one seeder');
      await store.putLeecher(ih, peer(2));
      assert.deepEqual(await countsOf(store, ih, peer(2), 'leecher'), { complete: 1, incomplete: 1 }, 'a leecher announcing again is not counted twice');
      assert.deepEqual(await countsOf(store, ih, peer(2), 'seeder'), { complete: 2, incomplete: 0 }, 'a leecher that completes');
      assert.deepEqual(await countsOf(store, ih, peer(1), 'gone'), { complete: 0, incomplete: 1 }, 'a seeder that stops');
      assert.deepEqual(await peersOf(store, ih, peer(1), 'gone', 50), [], 'a stopping peer is given no peers');
      assert.deepEqual(await countsOf(store, ih, peer(1), 'leecher'), { complete: 0, incomplete: 2 });
      // Same peer_id from the other family is another peer (swarms are kept per family).
      assert.deepEqual(await countsOf(store, ih, peer(1, '2001:db8::1'), 'seeder'), { complete: 2, incomplete: 1 });
      await store.stop();
    });

    it('collects peers silent for too long, with expired and live peers in every position', async () => {
      const { store, clock } = await setup();
      const t0 = clock.nowMs();
      // Old peers at the start, middle and end of every list, in both families, seeders and leechers.
      const pattern = (i: number) => i === 0 || i === 9 || i % 3 === 1;
      const live: Peer[] = [];
      for (let i = 0; i < 10; i++) {
        for (const [ip, seeder] of [['10.0.0.1', true], ['10.0.0.1', false], ['2001:db8::1', true], ['2001:db8::1', false]] as const) {
          const n = i + (seeder ? 0 : 100) + (ip.includes(':') ? 1000 : 0);
          clock.set(pattern(i) ? t0 : t0 + 60_000);
          const p = peer(n, ip);
          if (seeder) await store.putSeeder(ih, p); else await store.putLeecher(ih, p);
          if (!pattern(i)) live.push(p);
        }
      }
      clock.set(t0 + 61_000);
      const removed = await store.collectGarbage(t0 + 30_000);
      assert.equal(removed, 40 - live.length);
      const s = await store.stats();
      assert.equal(s.seeders + s.leechers, live.length);
      // Survivors are intact: each can still be found, replaced and deleted.
      const seen = ids(await peersOf(store, ih, peer(9999), 'leecher', 100));
      const seen6 = ids(await peersOf(store, ih, peer(9998, '2001:db8::9'), 'leecher', 100));
      assert.deepEqual([...seen, ...seen6].sort(), ids(live));
      for (const p of live) await store.deleteLeecher(ih, p);
      assert.deepEqual(await store.stats(), { swarms: 0, seeders: 0, leechers: 0 });
      assert.equal(await store.collectGarbage(t0 + 1e9), 0, 'collecting an empty store');
      // All expired at once.
      for (let i = 0; i < 5; i++) await store.putSeeder(ih, peer(i));
      assert.equal(await store.collectGarbage(t0 + 1e9), 5);
      await store.stop();
    });
  });
}
