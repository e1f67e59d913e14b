/**
 * pt_counted against the rule table in TypeScript: random announce sequences (seeded) per peer go
 * through computeDelta + DeltaScratch (the single-instance path) and through the Redis function;
 * every outcome field, every stream record (byte for byte) and the baselines afterwards must be
 * identical, and the swarm view must match the memory store driven as the swarm hook drives it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { MemoryPeerStore } from '../../../src/storage/memory/memory-store.js';
import { ManualClock } from '../../../src/clock.js';
import { computeDelta, FLAG_COUNTER_REGRESSION, FLAG_UNKNOWN_PEER, type Baseline } from '../../../src/middleware/privtrak/rules.js';
import { DeltaScratch } from '../../../src/middleware/privtrak/delta-scratch.js';
import { decodeRecord, encodeRecord } from '../../../src/accounting/delta-record.js';
import { roleAfter, type AnnounceEvent, type AnnounceRequest, type Peer } from '../../../src/bittorrent/types.js';
import type { RequestContext } from '../../../src/middleware/context.js';
import { createSwarmHook } from '../../../src/middleware/swarm/swarm-hook.js';
import { peer as suitePeer } from '../peer-store-suite.js';
import { dropPrefix, freshPrefix, redisConfig, redisUrlOrSkip } from '../../support/redis.js';
import { below, prng } from '../../support/prng.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_GAP = 3_600_000;
const STEPS = Number(process.env["PT_STEPS"] ?? 1500);
const prefixes: string[] = [];
let url: string | undefined;
after(async () => {
  if (url !== undefined) for (const p of prefixes) await dropPrefix(url, p);
});

interface PeerState { ih: Buffer; user: Buffer; peer: Peer; up: number; down: number; left: number }

describe('pt_counted: the rule table of rules.ts in Lua', () => {
  it('matches computeDelta on random announce sequences: outcomes, records, baselines, views', async (t) => {
    url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const clock = new ManualClock(1_700_000_000_000);
    const store = new RedisPeerStore({ config: redisConfig(url, prefix, { groups: 4, peer_lifetime: 1e12 /* no lazy GC: the memory store beside it has none */ }), clock });
    await store.start();
    const memory = new MemoryPeerStore(clock);
    const swarmHook = createSwarmHook(memory);
    const client = new Redis(url);
    t.after(async () => {
      client.disconnect();
      await store.stop();
    });
    const rand = prng(0x13_0001);
    // 4 swarms (two in one group: 0x0000.. and 0x0004.. both land in group 0 of 4), 3 users, 16 peers, two families.
    const hashes = [0x00, 0x04, 0x01, 0x02].map((b) => Buffer.concat([Buffer.from([0, b]), Buffer.alloc(18, b + 7)]));
    const users = [1, 2, 3].map((u) => Buffer.alloc(16, u));
    const peers: PeerState[] = [];
    for (let i = 0; i < 16; i++) {
      peers.push({ ih: hashes[i % 4]!, user: users[i % 3]!, peer: suitePeer(i, i % 5 === 0 ? `2001:db8::${i + 1}` : `10.0.0.${i + 1}`), up: 0, down: 0, left: 1000 });
    }
    const baselines = new Map<string, Baseline>();
    const seqs = new Map<number, number>();
    const expected = new Map<number, Buffer[]>();
    const seen = { unknown: 0, regression: 0, restart: 0, leftSnatch: 0, gapCapped: 0, stopped: 0, capped: 0, hidden: 0 };
    const events: AnnounceEvent[] = ['none', 'none', 'none', 'started', 'completed', 'stopped'];
    const mults = [1, 1, 0, 0.5, 1.5, 2, 1 / 3, 0.1];

    for (let step = 0; step < STEPS; step++) {
      const p = peers[below(rand, peers.length)]!;
      const event = events[below(rand, events.length)]!;
      // Counters: mostly growing, sometimes a regression, a restart at `started`, or a jump near 2^53.
      const r = rand();
      if (r < 0.08) { p.up = below(rand, p.up + 1); seen.regression++; }
      else if (r < 0.12) { p.up = MAX_SAFE - below(rand, 1000); p.down = MAX_SAFE - below(rand, 1000); }
      else { p.up = Math.min(MAX_SAFE, p.up + below(rand, 1 << 30)); }
      if (rand() < 0.05) p.down = below(rand, p.down + 1);
      else p.down = Math.min(MAX_SAFE, p.down + below(rand, 1 << 20));
      if (event === 'started' && rand() < 0.3) { p.up = below(rand, 100); p.down = below(rand, 100); seen.restart++; }
      p.left = rand() < 0.3 ? 0 : below(rand, 5000);
      // Time: mostly forward, sometimes past the gap cap, sometimes backwards (another instance's clock).
      const dt = rand() < 0.1 ? MAX_GAP + below(rand, MAX_GAP) : rand() < 0.05 ? -below(rand, 5000) : below(rand, 1_800_000);
      clock.set(clock.nowMs() + dt);
      if (dt > MAX_GAP) seen.gapCapped++;
      const now = clock.nowMs();
      const upMult = mults[below(rand, mults.length)]!;
      const downMult = mults[below(rand, mults.length)]!;
      const hidden = rand() < 0.1;
      const siteTorrentId = rand() < 0.5 ? 1 + below(rand, 1e6) : undefined;
      const numWant = below(rand, 5);
      const req: AnnounceRequest = {
        infoHash: p.ih, peer: p.peer, event, uploaded: p.up, downloaded: p.down, left: p.left, numWant,
        compact: true, noPeerId: false, transport: 'http',
      };
      const ctx = { uploadMultiplier: upMult, downloadMultiplier: downMult, siteTorrentId, hidden } as unknown as RequestContext;
      const template = encodeRecord(new DeltaScratch().fill(0, p.user, req, ctx,
        { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, now));

      // The single-instance path.
      const bkey = Buffer.concat([p.ih, p.user, p.peer.id]).toString('latin1');
      const prev = baselines.get(bkey);
      const out = computeDelta(prev === undefined ? undefined : { ...prev }, req, now, MAX_GAP);
      if (out.next === null) baselines.delete(bkey); else baselines.set(bkey, { ...out.next });
      const g = store.keys.groupOf(p.ih);
      if (out.flags & FLAG_UNKNOWN_PEER) seen.unknown++;
      if (prev !== undefined && prev.left > 0 && p.left === 0 && event !== 'completed' && out.snatch) seen.leftSnatch++;
      if (event === 'stopped') seen.stopped++;
      if (upMult !== 1 && out.deltaUp * upMult > MAX_SAFE) seen.capped++;
      if (hidden) seen.hidden++;
      const role = roleAfter(req);
      const memView = memory.announceView(p.ih, p.peer, role, 0);

      const wallBefore = Date.now();
      const got = await store.countedAnnounce({
        infoHash: p.ih, peer: p.peer, role, event, numWant, hidden, user: p.user, record: template,
        upMult, downMult, nowMs: now, maxGapMs: MAX_GAP,
      });
      // seq = max(last + 1, Redis TIME ms × 1024): increasing per group, near the wall clock × 1024.
      const seq = got.outcome.seq;
      const last = seqs.get(g) ?? 0;
      assert.ok(seq > last && seq >= (wallBefore - 1000) * 1024 && seq <= (Date.now() + 1000) * 1024 + STEPS, `seq ${seq} after ${last}`);
      seqs.set(g, seq);
      const want = new DeltaScratch().fill(seq, p.user, req, ctx, out, now);
      if (!expected.has(g)) expected.set(g, []);
      expected.get(g)!.push(encodeRecord(want));
      await swarmHook.handleAnnounce({ hidden } as unknown as RequestContext, req, undefined as never);
      const at = `step ${step} (${event}, prev ${JSON.stringify(prev)})`;
      assert.deepEqual(got.outcome, {
        deltaUp: want.deltaUp, deltaDown: want.deltaDown, creditUp: want.creditUp, creditDown: want.creditDown,
        seedTime: want.seedTime, leechTime: want.leechTime, snatch: want.snatch, flags: want.flags, seq, group: g,
      }, at);
      assert.deepEqual({ complete: got.view.complete, incomplete: got.view.incomplete }, { complete: memView.complete, incomplete: memView.incomplete }, at);
      assert.ok(got.view.peers.length <= numWant && ![...got.view.peers].some((x) => x.id.equals(p.peer.id)), at);
      assert.ok([...got.view.peers].every((x) => x.family === p.peer.family), at);
    }
    for (const [name, count] of Object.entries(seen)) assert.ok(count > 0, `the sequence covers ${name}`);
    assert.ok(seen.regression > 0 && (FLAG_COUNTER_REGRESSION & 2) === 2);

    // The streams: every record, byte for byte, with its entry ID.
    {
      for (const [g, records] of expected) {
        const k = store.keys.group(g);
        const entries = await client.xrangeBuffer(k.d, '-', '+');
        assert.equal(entries.length, records.length, `group ${g} stream length`);
        entries.forEach(([id, fields], i) => {
          const want = records[i]!;
          assert.equal(id.toString(), `${decodeRecord(want).seq}-1`);
          assert.equal(fields[0]!.toString(), 'r');
          assert.deepEqual(decodeRecord(fields[1]!), decodeRecord(want), `group ${g} record ${i}`);
          assert.ok(fields[1]!.equals(want), `group ${g} record ${i}: bytes`);
        });
        const info = (await client.call('XINFO', 'STREAM', k.d)) as unknown[];
        assert.equal(info[info.indexOf('last-generated-id') + 1], `${seqs.get(g)}-1`, 'the stream\'s last ID is the last seq');
      }
      // Baselines afterwards, and their expiry index.
      const stored = new Map<string, Baseline>();
      for (let g = 0; g < store.groups; g++) {
        const k = store.keys.group(g);
        const all = await client.hgetallBuffer(k.b);
        for (const [field, v] of Object.entries(all)) {
          const key = Buffer.from(field, 'latin1').toString('latin1');
          stored.set(key, { uploaded: v.readDoubleBE(0), downloaded: v.readDoubleBE(8), left: v.readDoubleBE(16), lastMs: v.readDoubleBE(24) });
        }
        assert.equal(await client.zcard(k.bseen), Object.keys(all).length, 'one expiry entry per baseline');
      }
      assert.deepEqual(new Map([...stored].sort()), new Map([...baselines].sort()));
      // The swarm, as the memory store has it.
      for (const ih of hashes) assert.deepEqual(await store.scrapeSwarm(ih), memory.scrapeSwarm(ih));
      assert.deepEqual(await store.stats(), memory.stats());
    }
  });
});
