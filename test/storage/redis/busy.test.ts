/**
 * The Redis store refusing work with TRACKER_BUSY: a group whose delta stream is at its bound
 * (nothing changes: swarm, baseline, seq, stream), and a Redis that is gone (announces refused
 * within command_timeout, no crash, service resumes by itself when Redis is back).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { LIBRARY_NAME } from '../../../src/storage/redis/keys.js';
import { ManualClock } from '../../../src/clock.js';
import { encodeRecord } from '../../../src/accounting/delta-record.js';
import { DeltaScratch } from '../../../src/middleware/privtrak/delta-scratch.js';
import { ClientError } from '../../../src/bittorrent/errors.js';
import type { AnnounceRequest, Peer } from '../../../src/bittorrent/types.js';
import type { RequestContext } from '../../../src/middleware/context.js';
import type { CountedAnnounce } from '../../../src/storage/redis/shared-accounting.js';
import { peer } from '../peer-store-suite.js';
import { dropPrefix, freshPrefix, redisConfig, redisUrlOrSkip } from '../../support/redis.js';
import { privateRedisOrSkip } from '../../support/redis-cluster.js';
import { freePort } from '../../support/tracker-process.js';

const prefixes: string[] = [];
let url: string | undefined;
after(async () => {
  if (url !== undefined) for (const p of prefixes) await dropPrefix(url, p);
});

const T0 = 1_700_000_000_000;
const user = Buffer.alloc(16, 4);

function counted(ih: Buffer, p: Peer, uploaded: number, nowMs: number): CountedAnnounce {
  const req: AnnounceRequest = { infoHash: ih, peer: p, event: 'none', uploaded, downloaded: 0, left: 0, numWant: 10, compact: true, noPeerId: false, transport: 'http' };
  const record = encodeRecord(new DeltaScratch().fill(0, user, req, {} as RequestContext,
    { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, nowMs));
  return { infoHash: ih, peer: p, role: 'seeder', event: 'none', numWant: 10, hidden: false, user, record, upMult: 1, downMult: 1, nowMs, maxGapMs: 60_000 };
}

const isBusy = (e: unknown) => e instanceof ClientError && e.code === 'TRACKER_BUSY' && e.message === 'tracker busy, retry later';

describe('Redis store: busy', () => {
  it('refuses a counted announce at the group\'s stream bound and changes nothing', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const clock = new ManualClock(T0);
    // 2 groups, 5 entries in all: ceil(5 / 2) = 3 per group.
    const store = new RedisPeerStore({ config: redisConfig(url, prefix, { groups: 2, max_stream_entries: 5 }), clock });
    await store.start();
    const client = new Redis(url);
    t.after(async () => {
      client.disconnect();
      await store.stop();
    });
    const ih = Buffer.alloc(20, 0x10); // group (0x1010 % 2) = 0
    const other = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(18, 1)]); // group 1
    for (let i = 0; i < 3; i++) await store.countedAnnounce(counted(ih, peer(i), 100, T0));
    const k = store.keys.group(0);
    // The stream's last ID is the group's last seq.
    const lastSeq = async () => {
      const info = (await client.call('XINFO', 'STREAM', k.d)) as unknown[];
      return Number(String(info[info.indexOf('last-generated-id') + 1]).split('-')[0]);
    };
    const snapshot = async () => ({
      scrape: await store.scrapeSwarm(ih), stats: await store.stats(), seq: await lastSeq(), xlen: await client.xlen(k.d),
      baselines: await client.hgetallBuffer(k.b), seen: await client.zrangeBuffer(k.seen, 0, -1, 'WITHSCORES'),
    });
    const before = await snapshot();
    assert.equal(before.xlen, 3);
    // An announce of a known peer (a baseline would move) and of a new one: both refused.
    clock.set(T0 + 5000);
    await assert.rejects(store.countedAnnounce(counted(ih, peer(0), 500, T0 + 5000)), isBusy);
    await assert.rejects(store.countedAnnounce(counted(ih, peer(9), 500, T0 + 5000)), isBusy);
    assert.deepEqual(await snapshot(), before, 'nothing changed');
    // The other group has its own bound.
    await store.countedAnnounce(counted(other, peer(1), 100, T0 + 5000));
    // The drainer trims an entry: the group takes announces again, and the delta counts from the old baseline.
    const ids = (await client.xrange(k.d, '-', '+')).map(([id]) => id);
    await client.xtrim(k.d, 'MINID', ids[1]!);
    const r = await store.countedAnnounce(counted(ih, peer(0), 500, T0 + 5000));
    assert.equal(r.outcome.deltaUp, 400);
    assert.ok(r.outcome.seq > before.seq, 'the next seq');
    assert.equal(await client.xlen(k.d), 3);
  });

  it('refuses announces within command_timeout while Redis is gone, and resumes by itself', async (t) => {
    // No persistence: a restart brings Redis back empty.
    const redis = await privateRedisOrSkip(t, { appendonly: false });
    if (redis === undefined) return;
    t.after(() => redis.stop());
    const clock = new ManualClock(T0);
    const timeout = 500;
    const store = new RedisPeerStore({ config: redisConfig(redis.url, freshPrefix(), { command_timeout: timeout }), clock });
    await store.start();
    t.after(() => store.stop());
    const ih = Buffer.alloc(20, 0x22);
    await store.putSeeder(ih, peer(1));
    await store.countedAnnounce(counted(ih, peer(2), 100, T0));
    await redis.down('kill');
    for (const call of [
      () => store.announceView(ih, peer(3), 'leecher', 10),
      () => store.putLeecher(ih, peer(3)),
      () => store.countedAnnounce(counted(ih, peer(2), 200, T0 + 1000)),
      () => store.scrapeSwarm(ih),
    ]) {
      const started = Date.now();
      await assert.rejects(call(), isBusy);
      assert.ok(Date.now() - started <= timeout + 250, `refused within command_timeout (${Date.now() - started} ms)`);
    }
    await assert.rejects(Promise.resolve(store.stats()));
    // Back, empty (no persistence): the store reconnects and loads its library again.
    await redis.start();
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await store.putSeeder(ih, peer(5));
        break;
      } catch (err) {
        assert.ok(isBusy(err), String(err));
        if (Date.now() > deadline) throw new Error('the store did not resume within 10 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // The library is back once FUNCTION LOAD ran; `reloads` counts the whole reload, which ends a
    // command later (P{meta}): wait for it, bounded, rather than race it.
    while (store.reloads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(store.reloads >= 1, 'the library was loaded again after the reconnect');
    assert.deepEqual(await store.scrapeSwarm(ih), { complete: 1, incomplete: 0, downloaded: 0 });
    const r = await store.countedAnnounce(counted(ih, peer(2), 300, T0 + 2000));
    assert.equal(r.outcome.flags, 1, 'the baseline was lost with the unpersisted Redis: an unknown peer, counted as none');
  });

  it('a counted announce refused for a timeout is not applied when Redis gets to it later (no ghost writes)', async (t) => {
    const redis = await privateRedisOrSkip(t, { appendonly: false });
    if (redis === undefined) return;
    t.after(() => redis.stop());
    const timeout = 300;
    const store = new RedisPeerStore({ config: redisConfig(redis.url, freshPrefix(), { command_timeout: timeout }), clock: new ManualClock(T0) });
    await store.start();
    t.after(() => store.stop());
    const admin = new Redis(redis.url);
    admin.on('error', () => undefined);
    t.after(() => admin.disconnect());
    const ih = Buffer.alloc(20, 0x33);
    const k = store.keys.group(store.keys.groupOf(ih));
    // The baseline: 100 bytes (an unknown peer's first announce is credited nothing).
    await store.countedAnnounce(counted(ih, peer(1), 100, T0));
    // Redis stops answering, its connections stay open: the command is sent, then given up on.
    redis.pause();
    try {
      await assert.rejects(store.countedAnnounce(counted(ih, peer(1), 500, T0 + 1000)), isBusy);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      redis.resume();
    }
    // Redis now reads the command the store gave up on; the client was told "busy" and moves on.
    const deadline = Date.now() + 5000;
    while (await store.scrapeSwarm(ih).then(() => false, () => Date.now() < deadline)) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await admin.xlen(k.d), 1, 'the refused announce wrote no delta');
    const r = await store.countedAnnounce(counted(ih, peer(1), 700, T0 + 2000));
    assert.equal(r.outcome.deltaUp, 600, 'its baseline did not move: the next announce is counted from the last accepted one');
  });

  it('fails to start against a closed port, quickly and without crashing', async () => {
    const port = await freePort();
    const store = new RedisPeerStore({ config: redisConfig(`redis://127.0.0.1:${port}/0`, freshPrefix(), { command_timeout: 500 }), clock: new ManualClock(T0) });
    const started = Date.now();
    await assert.rejects(store.start(), new RegExp(`storage: cannot start the Redis store at redis://127.0.0.1:${port}/0: `));
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
    await assert.rejects(store.putSeeder(Buffer.alloc(20, 1), peer(1)), isBusy);
    await store.stop();
  });

  it('loads the library again when a node lost it without a reconnect', async (t) => {
    // No persistence: a restart brings Redis back empty.
    const redis = await privateRedisOrSkip(t, { appendonly: false });
    if (redis === undefined) return;
    t.after(() => redis.stop());
    const store = new RedisPeerStore({ config: redisConfig(redis.url, freshPrefix()), clock: new ManualClock(T0) });
    await store.start();
    t.after(() => store.stop());
    const admin = new Redis(redis.url);
    t.after(() => admin.disconnect());
    await admin.call('FUNCTION', 'DELETE', LIBRARY_NAME);
    await assert.rejects(store.putSeeder(Buffer.alloc(20, 1), peer(1)), isBusy);
    const deadline = Date.now() + 5000;
    while (store.reloads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await store.putSeeder(Buffer.alloc(20, 1), peer(1));
    assert.deepEqual(await store.scrapeSwarm(Buffer.alloc(20, 1)), { complete: 1, incomplete: 0, downloaded: 0 });
  });
});
