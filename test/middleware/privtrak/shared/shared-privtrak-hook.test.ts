/**
 * The wiring of the privtrak hook's shared mode, with a small test double of SharedAccounting
 * (the real store and its pt_counted are tested in test/integration/shared-accounting.test.ts):
 * createPrivtrakHook picks the shared hook for a shared store, the announce goes to
 * countedAnnounce with the request's record and the context's multipliers, ctx.swarmView answers
 * the reply, the swarm hook leaves the store alone, TRACKER_BUSY is the refusal, no journal is
 * made. The double lends a real Redis client (the drainer's), so this needs Redis (skipped
 * without, failed in CI).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createPrivtrakHook } from '../../../../src/middleware/privtrak/privtrak-hook.js';
import { SharedPrivtrakHook } from '../../../../src/middleware/privtrak/shared/shared-privtrak-hook.js';
import { HookChain } from '../../../../src/middleware/chain.js';
import { createResponseHook } from '../../../../src/middleware/response/response-hook.js';
import { createSwarmHook } from '../../../../src/middleware/swarm/swarm-hook.js';
import { createContext } from '../../../../src/middleware/context.js';
import { MemoryPeerStore } from '../../../../src/storage/memory/memory-store.js';
import { ManualClock } from '../../../../src/clock.js';
import { makePeer } from '../../../../src/bittorrent/ip.js';
import { ClientError } from '../../../../src/bittorrent/errors.js';
import { decodeRecord } from '../../../../src/accounting/delta-record.js';
import { FLAG_UNKNOWN_PEER } from '../../../../src/middleware/privtrak/rules.js';
import { isSharedAccounting, type CountedAnnounce, type CountedResult, type SharedAccounting } from '../../../../src/storage/redis/shared-accounting.js';
import type { AnnounceView } from '../../../../src/storage/peer-store.js';
import { ConfigError } from '../../../../src/config/errors.js';
import { PASSKEY_A, TEST_SECRET, keyOf, req } from '../../../support/hook-driver.js';
import { deletePrefix, freshPrefix, redisUrlOrSkip } from '../../../support/redis.js';
import { MemorySink } from '../../../support/memory-sink.js';
import { ArrayPeerList } from '../../../../src/bittorrent/peer-list.js';

const OTHER = makePeer(Buffer.from('-XX0000-otherpeer000'), '10.1.2.3', 51413);

/** A memory store that also claims to be the shared one: records countedAnnounce calls, answers a fixed view. */
class SharedDouble extends MemoryPeerStore implements SharedAccounting {
  readonly groups = 4;
  readonly calls: CountedAnnounce[] = [];
  busy = false;
  baselineLifetimeMs = 0;
  readonly view: AnnounceView = { peers: new ArrayPeerList([OTHER]), complete: 7, incomplete: 3 };
  constructor(readonly keyPrefix: string, readonly client: Redis) {
    super(new ManualClock(Date.now()));
  }
  setBaselineLifetime(ms: number): void {
    this.baselineLifetimeMs = ms;
  }
  async countedAnnounce(a: CountedAnnounce): Promise<CountedResult> {
    if (this.busy) throw new ClientError('TRACKER_BUSY', 'tracker busy, retry later');
    this.calls.push(a);
    return { view: this.view, outcome: { deltaUp: 0, deltaDown: 0, creditUp: 0, creditDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: FLAG_UNKNOWN_PEER, seq: 1, group: 0 } };
  }
}

async function setup(t: TestContext) {
  const url = await redisUrlOrSkip(t);
  if (url === undefined) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'privtrak-shared-hook-'));
  const secret = join(dir, 'user-key.secret');
  writeFileSync(secret, TEST_SECRET);
  const redis = new Redis(url);
  const prefix = freshPrefix();
  const store = new SharedDouble(prefix, redis);
  const prometheus = new Registry();
  const journalDir = join(dir, 'journal');
  const hook = createPrivtrakHook({ journal_dir: journalDir, flush_interval: '50ms', sink: { name: 'sqlite', path: join(dir, 'sink.sqlite'), worker: false } }, {
    store, logger: pino({ level: 'silent' }), prometheus, announceIntervalMs: 1_800_000, userKeySecretPath: secret,
  }, 'hooks.pre[0]');
  const chain = new HookChain([hook, createResponseHook(store)], [createSwarmHook(store)], { announceInterval: 1800, minAnnounceInterval: 900 });
  t.after(async () => {
    await chain.stop();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });
  return { hook, chain, store, prometheus, journalDir };
}

describe('privtrak hook, shared mode (wiring)', () => {
  it('is picked for a shared store; refused beside a site block or with the log sink', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    assert.ok(isSharedAccounting(s.store));
    assert.ok(!isSharedAccounting(new MemoryPeerStore(new ManualClock(0))));
    assert.ok(s.hook instanceof SharedPrivtrakHook);
    assert.throws(() => createPrivtrakHook({}, {
      store: s.store, logger: pino({ level: 'silent' }), prometheus: new Registry(), announceIntervalMs: 1000, siteSink: new MemorySink(),
    }, 'hooks.pre[0]'), ConfigError);
    assert.throws(() => createPrivtrakHook({ sink: { name: 'log' } }, {
      store: s.store, logger: pino({ level: 'silent' }), prometheus: new Registry(), announceIntervalMs: 1000,
    }, 'hooks.pre[0]'), (e: ConfigError) => /needs a SQL sink/.test(e.message));
  });

  it('counts through countedAnnounce, answers from ctx.swarmView, and the swarm hook leaves the store alone', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    await s.chain.start();
    assert.equal(existsSync(s.journalDir), false, 'no journal directory in shared mode');
    assert.equal(s.store.baselineLifetimeMs, 7 * 86_400_000, 'the store collects baselines after the hook\'s baseline_lifetime');
    const ctx = createContext({ passkey: PASSKEY_A }, {});
    ctx.uploadMultiplier = 2;
    ctx.downloadMultiplier = 0;
    ctx.hidden = true;
    ctx.siteTorrentId = 99;
    const r = req('-qB4520-shared', 1000, 200, 5000, 'started');
    const before = Date.now();
    const response = await s.chain.announce(ctx, r);
    // The call: the request's facts, the user key, the context's multipliers and hidden flag.
    assert.equal(s.store.calls.length, 1);
    const call = s.store.calls[0]!;
    assert.deepEqual([call.infoHash, call.peer, call.role, call.event, call.numWant, call.hidden, call.upMult, call.downMult, call.maxGapMs],
      [r.infoHash, r.peer, 'leecher', 'started', 50, true, 2, 0, 3_600_000]);
    assert.deepEqual(call.user, keyOf(PASSKEY_A));
    assert.deepEqual(ctx.userId, keyOf(PASSKEY_A));
    assert.ok(call.nowMs >= before && call.nowMs <= Date.now());
    // The record template: everything the request says, zero deltas for pt_counted to fill in.
    const d = decodeRecord(call.record);
    assert.deepEqual([d.seq, d.user, d.infoHash, d.peerId, d.ip, d.port, d.event, d.uploaded, d.downloaded, d.left, d.timeMs, d.siteTorrentId],
      [0, keyOf(PASSKEY_A), r.infoHash, r.peer.id, '127.0.0.1', 6881, 'started', 1000, 200, 5000, call.nowMs, 99]);
    assert.deepEqual([d.deltaUp, d.deltaDown, d.creditUp, d.creditDown, d.seedTime, d.leechTime, d.snatch, d.flags, d.baseline], [0, 0, 0, 0, 0, 0, false, 0, null]);
    // The reply comes from the view of the atomic step.
    assert.equal(ctx.swarmView, s.store.view);
    assert.deepEqual([response.complete, response.incomplete, [...response.ipv4Peers]], [7, 3, [OTHER]]);
    await s.chain.afterAnnounce(ctx, r, response);
    assert.deepEqual(s.store.scrapeSwarm(r.infoHash), { complete: 0, incomplete: 0, downloaded: 0 }, 'the swarm hook did not touch the store');
    const deltas = await s.prometheus.getSingleMetric('privtrak_deltas_total')!.get();
    assert.equal(deltas.values.find((v) => v.labels['flag'] === 'unknown_peer')?.value, 1);
  });

  it('refuses with the store\'s TRACKER_BUSY, and with CLOSING once stopped', async (t) => {
    const s = await setup(t);
    if (s === undefined) return;
    await s.chain.start();
    s.store.busy = true;
    const ctx = createContext({ passkey: PASSKEY_A }, {});
    await assert.rejects(Promise.resolve(s.chain.announce(ctx, req('-qB4520-busy', 0, 0, 10, 'started'))),
      (e: ClientError) => e.code === 'TRACKER_BUSY');
    assert.equal(ctx.swarmView, undefined);
    const refused = await s.prometheus.getSingleMetric('privtrak_announces_refused_total')!.get();
    assert.equal(refused.values.find((v) => v.labels['reason'] === 'busy')?.value, 1);
    s.store.busy = false;
    await s.chain.stop();
    assert.throws(() => s.chain.announce(createContext({ passkey: PASSKEY_A }, {}), req('-qB4520-late', 0, 0, 10, 'started')),
      (e: ClientError) => e.code === 'CLOSING');
  });
});
