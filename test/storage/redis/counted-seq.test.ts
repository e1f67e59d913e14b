/**
 * pt_counted's seq: max(the stream's last ID + 1, Redis TIME ms × 1024). The TIME floor is tried
 * first; a stream whose last ID is above it (over 1024 deltas in one ms, or Redis's clock gone
 * back) makes the function read the stream's last-generated-id, which survives XTRIM.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { ManualClock } from '../../../src/clock.js';
import { decodeRecord, encodeRecord } from '../../../src/accounting/delta-record.js';
import { DeltaScratch } from '../../../src/middleware/privtrak/delta-scratch.js';
import type { AnnounceRequest, Peer } from '../../../src/bittorrent/types.js';
import type { RequestContext } from '../../../src/middleware/context.js';
import type { CountedAnnounce } from '../../../src/storage/redis/shared-accounting.js';
import { peer } from '../peer-store-suite.js';
import { dropPrefix, freshPrefix, redisConfig, redisUrlOrSkip } from '../../support/redis.js';

const prefixes: string[] = [];
let url: string | undefined;
after(async () => {
  if (url !== undefined) for (const p of prefixes) await dropPrefix(url, p);
});

const T0 = 1_700_000_000_000;
const user = Buffer.alloc(16, 6);
const ih = Buffer.alloc(20, 9);

function counted(p: Peer, uploaded: number): CountedAnnounce {
  const req: AnnounceRequest = { infoHash: ih, peer: p, event: 'started', uploaded, downloaded: 0, left: 0, numWant: 0, compact: true, noPeerId: false, transport: 'http' };
  const record = encodeRecord(new DeltaScratch().fill(0, user, req, {} as RequestContext,
    { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, T0));
  return { infoHash: ih, peer: p, role: 'seeder', event: 'started', numWant: 0, hidden: false, user, record, upMult: 1, downMult: 1, nowMs: T0, maxGapMs: 60_000 };
}

describe('pt_counted: the seq', () => {
  it('follows the TIME floor, and goes on from the stream\'s last ID when that is above it, even trimmed away', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const store = new RedisPeerStore({ config: redisConfig(url, prefix), clock: new ManualClock(T0) });
    await store.start();
    t.after(() => store.stop());
    const client = new Redis(url);
    t.after(() => client.disconnect());
    const d = store.keys.group(store.keys.groupOf(ih)).d;
    const streamLast = async () => {
      const info = (await client.call('XINFO', 'STREAM', d)) as unknown[];
      return String(info[info.indexOf('last-generated-id') + 1]);
    };

    const before = Date.now();
    const first = await store.countedAnnounce(counted(peer(1), 10));
    assert.ok(first.outcome.seq >= (before - 1000) * 1024 && first.outcome.seq <= (Date.now() + 1000) * 1024, `floor seq ${first.outcome.seq}`);
    assert.equal(await streamLast(), `${first.outcome.seq}-1`);

    // A stream already an hour of floor ahead (as after Redis's clock went back): seq = last + 1.
    const ahead = (Date.now() + 3_600_000) * 1024;
    await client.xadd(d, `${ahead}-1`, 'r', 'x');
    const second = await store.countedAnnounce(counted(peer(2), 20));
    assert.equal(second.outcome.seq, ahead + 1);
    // The record in the stream carries the seq it was added under.
    const [[id, fields]] = (await client.xrevrangeBuffer(d, '+', '-', 'COUNT', 1)) as [[Buffer, Buffer[]]];
    assert.equal(id.toString(), `${ahead + 1}-1`);
    assert.equal(decodeRecord(fields[1]!).seq, ahead + 1);

    // Every entry trimmed away: the last-generated-id still holds, the next seq follows it.
    await client.xtrim(d, 'MAXLEN', 0);
    assert.equal(await client.xlen(d), 0);
    const third = await store.countedAnnounce(counted(peer(3), 30));
    assert.equal(third.outcome.seq, ahead + 2);
    assert.equal(await streamLast(), `${ahead + 2}-1`);
  });
});
