/**
 * Two RedisPeerStore instances (two connections) writing the same swarms at once: counts,
 * snatches and the groups' gauges must end exactly as a model says, and never go negative on
 * the way (chihaya#471). Operations of one peer are applied in order (as one client's announces
 * are); different peers run concurrently on either instance.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { ManualClock } from '../../../src/clock.js';
import { encodeRecord, decodeRecord } from '../../../src/accounting/delta-record.js';
import { DeltaScratch } from '../../../src/middleware/privtrak/delta-scratch.js';
import type { AnnounceEvent, AnnounceRequest } from '../../../src/bittorrent/types.js';
import type { RequestContext } from '../../../src/middleware/context.js';
import { Redis } from 'ioredis';
import { peer } from '../peer-store-suite.js';
import { dropPrefix, freshPrefix, redisConfig, redisUrlOrSkip } from '../../support/redis.js';
import { below, prng } from '../../support/prng.js';

const SWARMS = 20;
const PEERS_PER_SWARM = 8;
const OPS = 2000;
const prefixes: string[] = [];
let url: string | undefined;
after(async () => {
  if (url !== undefined) for (const p of prefixes) await dropPrefix(url, p);
});

async function twoStores(t: { after(fn: () => Promise<void>): void }, u: string, clock: ManualClock): Promise<[RedisPeerStore, RedisPeerStore]> {
  const prefix = freshPrefix();
  prefixes.push(prefix);
  const a = new RedisPeerStore({ config: redisConfig(u, prefix, { groups: 8 }), clock });
  const b = new RedisPeerStore({ config: redisConfig(u, prefix, { groups: 8 }), clock });
  await a.start();
  await b.start();
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  return [a, b];
}

const hashOf = (s: number) => Buffer.concat([Buffer.from([s * 13 % 256, s]), Buffer.alloc(18, s)]);

describe('Redis store: two instances on the same swarms', () => {
  it('keeps seeders, leechers, snatches and gauges exact under concurrent announces and stops', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const clock = new ManualClock(1_700_000_000_000);
    const stores = await twoStores(t, url, clock);
    const rand = prng(0x13_0002);
    type Where = 'seeder' | 'leecher' | undefined;
    const model = new Map<string, Where>();
    const downloads = new Array<number>(SWARMS).fill(0);
    const chains = new Map<string, Promise<void>>();
    let negative = '';
    let sampled = 0;
    for (let i = 0; i < OPS; i++) {
      const s = below(rand, SWARMS);
      const p = peer(s * 100 + below(rand, PEERS_PER_SWARM), rand() < 0.25 ? '2001:db8::7' : '10.1.2.3');
      const ih = hashOf(s);
      const key = `${s}/${p.id.toString('latin1')}/${p.family}`;
      const store = stores[below(rand, 2)]!;
      const r = rand();
      let run: () => Promise<void>;
      if (r < 0.3) { model.set(key, 'leecher'); run = () => store.putLeecher(ih, p); }
      else if (r < 0.55) { model.set(key, 'seeder'); run = () => store.putSeeder(ih, p); }
      else if (r < 0.7) { model.set(key, 'seeder'); downloads[s]!++; run = () => store.graduateLeecher(ih, p); }
      else { model.set(key, undefined); run = () => (rand() < 0.5 ? store.deleteSeeder(ih, p) : store.deleteLeecher(ih, p)); }
      // One peer's operations in order; different peers concurrently.
      chains.set(key, (chains.get(key) ?? Promise.resolve()).then(run));
      if (i % 100 === 99) {
        const st = await stores[i % 2]!.stats();
        sampled++;
        if (st.seeders < 0 || st.leechers < 0 || st.swarms < 0) negative = JSON.stringify(st);
      }
      if (chains.size >= 64) {
        await Promise.all(chains.values());
        chains.clear();
      }
    }
    await Promise.all(chains.values());
    assert.equal(negative, '', 'gauges never negative');
    assert.ok(sampled >= 10);
    let seeders = 0;
    let leechers = 0;
    let swarms = 0;
    for (let s = 0; s < SWARMS; s++) {
      const entries = [...model].filter(([k]) => k.startsWith(`${s}/`));
      const c = entries.filter(([, w]) => w === 'seeder').length;
      const l = entries.filter(([, w]) => w === 'leecher').length;
      seeders += c;
      leechers += l;
      if (c + l > 0) swarms++;
      for (const store of stores) assert.deepEqual(await store.scrapeSwarm(hashOf(s)), { complete: c, incomplete: l, downloaded: downloads[s] }, `swarm ${s}`);
    }
    assert.ok(seeders > 0 && leechers > 0);
    assert.deepEqual(await stores[0].stats(), { swarms, seeders, leechers });
    assert.deepEqual(await stores[1].stats(), { swarms, seeders, leechers });
  });

  it('counts every byte once when a peer\'s announces alternate between instances (pt_counted)', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const clock = new ManualClock(1_700_000_000_000);
    const stores = await twoStores(t, url, clock);
    const rand = prng(0x13_0003);
    const user = Buffer.alloc(16, 9);
    const peers = Array.from({ length: 24 }, (_, i) => ({ ih: hashOf(i % SWARMS), p: peer(5000 + i), up: 0, down: 0, announces: 0 }));
    const announceOf = async (x: typeof peers[number], event: AnnounceEvent) => {
      x.up += below(rand, 1 << 24);
      x.down += below(rand, 1 << 20);
      x.announces++;
      const req: AnnounceRequest = { infoHash: x.ih, peer: x.p, event, uploaded: x.up, downloaded: x.down, left: 10, numWant: 5, compact: true, noPeerId: false, transport: 'http' };
      const record = encodeRecord(new DeltaScratch().fill(0, user, req, {} as RequestContext,
        { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, clock.nowMs()));
      await stores[below(rand, 2)]!.countedAnnounce({ infoHash: x.ih, peer: x.p, role: event === 'stopped' ? 'gone' : 'leecher', event, numWant: 5,
        hidden: false, user, record, upMult: 1, downMult: 1, nowMs: clock.nowMs(), maxGapMs: 3_600_000 });
    };
    // Each peer: started, 20 regular announces, stopped; peers interleaved, each peer's in order.
    await Promise.all(peers.map(async (x) => {
      await announceOf(x, 'started');
      for (let i = 0; i < 20; i++) await announceOf(x, 'none');
      await announceOf(x, 'stopped');
    }));
    const client = new Redis(url);
    t.after(() => client.disconnect());
    const sums = new Map<string, { up: number; down: number; n: number }>();
    for (let g = 0; g < stores[0].groups; g++) {
      const k = stores[0].keys.group(g);
      for (const [, fields] of await client.xrangeBuffer(k.d, '-', '+')) {
        const d = decodeRecord(fields[1]!);
        const s = sums.get(d.peerId.toString('latin1')) ?? { up: 0, down: 0, n: 0 };
        s.up += d.deltaUp;
        s.down += d.deltaDown;
        s.n++;
        sums.set(d.peerId.toString('latin1'), s);
        assert.equal(d.flags, 0, 'no peer was unknown to the instance that took its announce');
      }
      assert.equal(await client.hlen(k.b), 0, 'stopped: no baseline left');
    }
    for (const x of peers) assert.deepEqual(sums.get(x.p.id.toString('latin1')), { up: x.up, down: x.down, n: x.announces });
    assert.deepEqual(await stores[0].stats(), { swarms: 0, seeders: 0, leechers: 0 });
  });
});
