/**
 * GC of the shared store: expired peers and baselines go, live ones stay, one instance at a time
 * holds the lease and walks the groups, and two instances collecting at once remove each peer once.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { ManualClock } from '../../../src/clock.js';
import { encodeRecord } from '../../../src/accounting/delta-record.js';
import { DeltaScratch } from '../../../src/middleware/privtrak/delta-scratch.js';
import type { AnnounceRequest } from '../../../src/bittorrent/types.js';
import type { RequestContext } from '../../../src/middleware/context.js';
import { peer } from '../peer-store-suite.js';
import { dropPrefix, freshPrefix, redisConfig, redisUrlOrSkip } from '../../support/redis.js';

const prefixes: string[] = [];
let url: string | undefined;
after(async () => {
  if (url !== undefined) for (const p of prefixes) await dropPrefix(url, p);
});

const T0 = 1_700_000_000_000;
const hashOf = (s: number) => Buffer.concat([Buffer.from([0, s]), Buffer.alloc(18, s)]);

async function stores(t: { after(fn: () => Promise<void>): void }, u: string, clock: ManualClock, n: number, peerLifetimeMs: number): Promise<RedisPeerStore[]> {
  const prefix = freshPrefix();
  prefixes.push(prefix);
  const made: RedisPeerStore[] = [];
  for (let i = 0; i < n; i++) {
    // A small batch: a group needs several pt_gc calls, as a big one would.
    const s = new RedisPeerStore({ config: redisConfig(u, prefix, { groups: 4, peer_lifetime: peerLifetimeMs }), clock, gcBatch: 7, baselineLifetimeMs: 3_600_000 });
    await s.start();
    made.push(s);
  }
  t.after(async () => {
    for (const s of made) await s.stop();
  });
  return made;
}

describe('Redis store: GC under a lease', () => {
  it('removes each expired peer once with two instances collecting at once; one holds the lease', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const clock = new ManualClock(T0);
    // Lazy GC off (announces pop peers older than the store's peer_lifetime): the walk alone is measured here.
    const [a, b] = await stores(t, url, clock, 2, 1e9);
    // 60 old peers over 12 swarms and both families, 25 recent ones beside them.
    for (let i = 0; i < 85; i++) {
      clock.set(i < 60 ? T0 : T0 + 100_000);
      const p = peer(i, i % 3 === 0 ? '2001:db8::5' : '10.0.0.5');
      const store = i % 2 === 0 ? a! : b!;
      if (i % 4 === 0) await store.putLeecher(hashOf(i % 12), p); else await store.putSeeder(hashOf(i % 12), p);
    }
    clock.set(T0 + 120_000);
    const before = await a!.stats();
    assert.equal(before.seeders + before.leechers, 85);
    const [ra, rb] = await Promise.all([a!.gc.collect(T0 + 60_000, 0), b!.gc.collect(T0 + 60_000, 0)]);
    assert.equal(Number(ra.held) + Number(rb.held), 1, `exactly one instance walked: ${JSON.stringify([ra, rb])}`);
    assert.equal(ra.peers + rb.peers, 60, 'each expired peer removed once');
    const s = await b!.stats();
    assert.equal(s.seeders + s.leechers, 25);
    let live = 0;
    for (let sw = 0; sw < 12; sw++) {
      const c = await a!.scrapeSwarm(hashOf(sw));
      live += c.complete + c.incomplete;
    }
    assert.equal(live, 25, 'the gauges agree with the swarms');
    // The holder keeps the lease between walks; the other instance's StoreMaintenance does nothing.
    const holder = ra.held ? a! : b!;
    const other = ra.held ? b! : a!;
    assert.equal(await other.collectGarbage(T0 + 1e9), 0);
    assert.equal((await other.stats()).seeders + (await other.stats()).leechers, 25, 'the non-holder removed nothing');
    // The holder stops (releases the lease): the other takes over at its next walk.
    await holder.stop();
    assert.equal(await other.collectGarbage(T0 + 1e9), 25);
    assert.deepEqual(await other.stats(), { swarms: 0, seeders: 0, leechers: 0 });
  });

  it('collects expired baselines with the walk, and announces pop expired peers lazily', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const clock = new ManualClock(T0);
    const [a] = await stores(t, url, clock, 1, 60_000);
    const user = Buffer.alloc(16, 3);
    const counted = async (n: number, at: number) => {
      clock.set(at);
      const p = peer(n);
      const req: AnnounceRequest = { infoHash: hashOf(1), peer: p, event: 'started', uploaded: 1, downloaded: 1, left: 5, numWant: 0, compact: true, noPeerId: false, transport: 'http' };
      const record = encodeRecord(new DeltaScratch().fill(0, user, req, {} as RequestContext,
        { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, at));
      return a!.countedAnnounce({ infoHash: hashOf(1), peer: p, role: 'leecher', event: 'started', numWant: 0, hidden: false, user, record,
        upMult: 1, downMult: 1, nowMs: at, maxGapMs: 60_000 });
    };
    for (let i = 0; i < 10; i++) await counted(i, T0);
    // Each of these three announces pops 2 of the ten expired peers (lazy GC): 4 remain for the walk.
    for (let i = 10; i < 13; i++) await counted(i, T0 + 3_000_000);
    assert.equal((await a!.stats()).leechers, 7);
    const client = new Redis(url);
    t.after(() => client.disconnect());
    const k = a!.keys.group(a!.keys.groupOf(hashOf(1)));
    assert.equal(await client.hlen(k.b), 13);
    // At T0 + 3.7e6 the first ten are past both the peer lifetime (60 s) and the baseline lifetime (1 h).
    clock.set(T0 + 3_700_000);
    const r = await a!.gc.collect(clock.nowMs() - 60_000, clock.nowMs() - 3_600_000);
    assert.deepEqual(r, { held: true, peers: 7, baselines: 10 });
    assert.deepEqual(await a!.stats(), { swarms: 0, seeders: 0, leechers: 0 });
    assert.equal(await client.hlen(k.b), 3);
    assert.equal(await client.zcard(k.bseen), 3);
    // Lazy: 5 expired peers in the group; each announce pops up to 2 of them.
    for (let i = 20; i < 25; i++) await a!.putSeeder(hashOf(1), peer(i));
    clock.set(T0 + 3_700_000 + 120_000);
    assert.equal((await a!.stats()).seeders, 5);
    await a!.putLeecher(hashOf(1), peer(30));
    assert.deepEqual(await a!.stats(), { swarms: 1, seeders: 3, leechers: 1 });
    await a!.putLeecher(hashOf(1), peer(31));
    await a!.putLeecher(hashOf(1), peer(32));
    assert.deepEqual(await a!.stats(), { swarms: 1, seeders: 0, leechers: 3 });
    assert.deepEqual(await a!.scrapeSwarm(hashOf(1)), { complete: 0, incomplete: 3, downloaded: 0 });
  });
  it('refreshes a baseline\'s expiry score lazily, and the walk neither collects a live baseline early nor keeps an expired one', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const clock = new ManualClock(T0);
    const [a] = await stores(t, url, clock, 1, 1e9);
    const user = Buffer.alloc(16, 4);
    const p = peer(1);
    const counted = async (at: number, event: 'started' | 'none', uploaded: number) => {
      clock.set(at);
      const req: AnnounceRequest = { infoHash: hashOf(2), peer: p, event, uploaded, downloaded: 0, left: 5, numWant: 0, compact: true, noPeerId: false, transport: 'http' };
      const record = encodeRecord(new DeltaScratch().fill(0, user, req, {} as RequestContext,
        { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, at));
      return a!.countedAnnounce({ infoHash: hashOf(2), peer: p, role: 'leecher', event, numWant: 0, hidden: false, user, record,
        upMult: 1, downMult: 1, nowMs: at, maxGapMs: 60_000 });
    };
    const client = new Redis(url);
    t.after(() => client.disconnect());
    const k = a!.keys.group(a!.keys.groupOf(hashOf(2)));
    const field = Buffer.concat([hashOf(2), user, p.id]);
    const lastMs = async () => (await client.hgetBuffer(k.b, field))?.readDoubleBE(24);
    const score = async () => Number(await client.zscore(k.bseen, field));
    const MIN = 60_000;

    // Lifetime 1 h: the score is rewritten once lastMs moved 7.5 min (1/8) past it.
    await counted(T0, 'started', 100);
    assert.equal(await score(), T0);
    // 5 min later: the baseline moves, its expiry score is left behind.
    await counted(T0 + 5 * MIN, 'none', 200);
    assert.equal(await lastMs(), T0 + 5 * MIN);
    assert.equal(await score(), T0, 'score not rewritten within 1/8 of the lifetime');
    // The walk at T0 + 62 min (cutoff T0 + 2 min) finds the lagging score, reads the baseline's
    // own lastMs (T0 + 5 min, alive) and moves the score up instead of removing it.
    const live = await a!.gc.collect(0, T0 + 2 * MIN);
    assert.equal(live.baselines, 0);
    assert.equal(await lastMs(), T0 + 5 * MIN, 'the live baseline stays');
    assert.equal(await score(), T0 + 5 * MIN);
    // An announce 8 min past the score rewrites it.
    await counted(T0 + 13 * MIN, 'none', 300);
    assert.equal(await score(), T0 + 13 * MIN);
    // Silent past its lifetime: the walk removes it, and its expiry entry.
    const gone = await a!.gc.collect(0, T0 + 13 * MIN + 1);
    assert.equal(gone.baselines, 1);
    assert.equal(await client.hexists(k.b, field), 0);
    assert.equal(await client.zcard(k.bseen), 0);
  });

  it('moves a lagging score up for many live baselines in one walk, batch after batch', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const clock = new ManualClock(T0);
    const [a] = await stores(t, url, clock, 1, 1e9);
    const user = Buffer.alloc(16, 5);
    const counted = async (n: number, at: number, event: 'started' | 'none') => {
      clock.set(at);
      const p = peer(n);
      const req: AnnounceRequest = { infoHash: hashOf(3), peer: p, event, uploaded: at - T0 + 1, downloaded: 0, left: 5, numWant: 0, compact: true, noPeerId: false, transport: 'http' };
      const record = encodeRecord(new DeltaScratch().fill(0, user, req, {} as RequestContext,
        { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, at));
      return a!.countedAnnounce({ infoHash: hashOf(3), peer: p, role: 'leecher', event, numWant: 0, hidden: false, user, record,
        upMult: 1, downMult: 1, nowMs: at, maxGapMs: 60_000 });
    };
    // 20 baselines (the batch is 7): 15 announced again 5 min later (scores lag), 5 silent.
    for (let i = 0; i < 20; i++) await counted(i, T0, 'started');
    for (let i = 0; i < 15; i++) await counted(i, T0 + 300_000, 'none');
    // Cutoff T0 + 1 ms: every score is below it; only the 5 silent baselines are expired.
    const r = await a!.gc.collect(0, T0 + 1);
    assert.equal(r.baselines, 5);
    const client = new Redis(url);
    t.after(() => client.disconnect());
    const k = a!.keys.group(a!.keys.groupOf(hashOf(3)));
    assert.equal(await client.hlen(k.b), 15);
    assert.equal(await client.zcount(k.bseen, '-inf', `(${T0 + 300_000}`), 0, 'every live score moved up to its lastMs');
  });
});
