/**
 * The conformance suite every DeltaSink passes, called in one line per sink: exact totals,
 * idempotent retries (also regrouped), baselines stored with the batch, snatches counted once,
 * 64-bit totals, and an atomic failed batch.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DeltaSink } from '../../src/sinks/sink.js';
import type { StatDelta } from '../../src/middleware/privtrak/delta.js';
import type { AnnounceEvent } from '../../src/bittorrent/types.js';

export const USER_A = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
export const USER_B = Buffer.from('fedcba9876543210fedcba9876543210', 'hex');
const IH1 = Buffer.alloc(20, 0x01);
const IH2 = Buffer.alloc(20, 0xf2);

export function delta(seq: number, over: Partial<StatDelta> = {}): StatDelta {
  return {
    seq, user: USER_A, infoHash: IH1, peerId: Buffer.from('-qB4520-aaaaaaaaaaaa'), ip: '10.0.0.1', port: 6881,
    event: 'none' as AnnounceEvent, uploaded: 0, downloaded: 0, left: 0, deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0,
    snatch: false, flags: 0, timeMs: 1_700_000_000_000 + seq, baseline: { uploaded: 0, downloaded: 0, left: 0, lastMs: 1_700_000_000_000 + seq },
    ...over,
  };
}

export interface SinkCapabilities {
  /** Whether load() returns baselines (the log sink keeps none). */
  baselines: boolean;
  /** Whether a failed apply can be provoked and must leave nothing behind. */
  atomicFailure?: (sink: DeltaSink) => Promise<void>;
}

const totalsOf = async (sink: DeltaSink, user: Buffer) => {
  const rows = await sink.totals({ user, byTorrent: false });
  assert.ok(rows.length <= 1);
  const r = rows[0];
  return r && { up: r.uploaded, down: r.downloaded, seed: r.seedTime, leech: r.leechTime, snatched: r.snatched };
};

export function runSinkSuite(name: string, makeSink: () => Promise<DeltaSink>, caps: SinkCapabilities): void {
  describe(`sink conformance: ${name}`, () => {
    const withSink = async (fn: (s: DeltaSink) => Promise<void>) => {
      const sink = await makeSink();
      try {
        await fn(sink);
      } finally {
        await sink.close();
      }
    };

    it('applies a batch into exact per-user and per-torrent totals', () => withSink(async (sink) => {
      await sink.apply({ id: 4, instance: 'a', deltas: [
        delta(1, { deltaUp: 100, deltaDown: 10, seedTime: 30 }),
        delta(2, { deltaUp: 50, infoHash: IH2, leechTime: 7 }),
        delta(3, { deltaUp: 1, deltaDown: 2, user: USER_B }),
        delta(4, { deltaUp: 5, peerId: Buffer.from('-TR3000-bbbbbbbbbbbb') }),
      ] });
      assert.deepEqual(await totalsOf(sink, USER_A), { up: 155n, down: 10n, seed: 30n, leech: 7n, snatched: 0n });
      assert.deepEqual(await totalsOf(sink, USER_B), { up: 1n, down: 2n, seed: 0n, leech: 0n, snatched: 0n });
      const byTorrent = await sink.totals({ user: USER_A, byTorrent: true });
      assert.deepEqual(byTorrent.map((r) => [r.infoHash!.toString('hex'), r.uploaded]), [[IH1.toString('hex'), 105n], [IH2.toString('hex'), 50n]]);
      const all = await sink.totals({ byTorrent: false });
      assert.deepEqual(all.map((r) => r.user.toString('hex')), [USER_A.toString('hex'), USER_B.toString('hex')]);
      assert.equal((await sink.load('a', 0)).appliedThrough, 4);
    }));

    it('ignores a batch applied before, and applies only the new part of a regrouped one', () => withSink(async (sink) => {
      const first = { id: 5, instance: 'a', deltas: [1, 2, 3, 4, 5].map((s) => delta(s, { deltaUp: 10 })) };
      await sink.apply(first);
      await sink.apply(first);
      await sink.apply({ id: 8, instance: 'a', deltas: [3, 4, 5, 6, 7, 8].map((s) => delta(s, { deltaUp: 10 })) });
      assert.deepEqual((await totalsOf(sink, USER_A))!.up, 80n);
      assert.equal((await sink.load('a', 0)).appliedThrough, 8);
      // Another instance has its own mark.
      await sink.apply({ id: 2, instance: 'b', deltas: [1, 2].map((s) => delta(s, { deltaUp: 1 })) });
      assert.deepEqual((await totalsOf(sink, USER_A))!.up, 82n);
      assert.equal((await sink.load('b', 0)).appliedThrough, 2);
    }));

    it('counts a snatch once per user and torrent', () => withSink(async (sink) => {
      await sink.apply({ id: 2, instance: 'a', deltas: [delta(1, { snatch: true }), delta(2, { snatch: true })] });
      await sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { snatch: true, peerId: Buffer.from('-TR3000-bbbbbbbbbbbb') })] });
      await sink.apply({ id: 4, instance: 'a', deltas: [delta(4, { snatch: true, infoHash: IH2 })] });
      assert.equal((await totalsOf(sink, USER_A))!.snatched, 2n);
    }));

    it('keeps totals exact beyond 2^53', () => withSink(async (sink) => {
      const big = 2 ** 53 - 1;
      await sink.apply({ id: 2, instance: 'a', deltas: [delta(1, { deltaUp: big }), delta(2, { deltaUp: big })] });
      await sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { deltaUp: 3 })] });
      assert.equal((await totalsOf(sink, USER_A))!.up, 2n * BigInt(big) + 3n);
    }));

    if (caps.baselines) {
      it('stores baselines with the batch: the last per peer, removed ones gone, filtered by age', () => withSink(async (sink) => {
        const p2 = Buffer.from('-TR3000-bbbbbbbbbbbb');
        await sink.apply({ id: 4, instance: 'a', deltas: [
          delta(1, { baseline: { uploaded: 1, downloaded: 1, left: 9, lastMs: 1000 } }),
          delta(2, { baseline: { uploaded: 5, downloaded: 6, left: 7, lastMs: 2000 } }),
          delta(3, { peerId: p2, baseline: { uploaded: 1, downloaded: 0, left: 0, lastMs: 3000 } }),
          delta(4, { peerId: p2, baseline: null }),
        ] });
        const state = await sink.load('a', 0);
        assert.deepEqual(state.baselines.map((b) => [b.user.toString('hex'), b.infoHash.toString('hex'), b.peerId.toString('latin1'), b.baseline]),
          [[USER_A.toString('hex'), IH1.toString('hex'), '-qB4520-aaaaaaaaaaaa', { uploaded: 5, downloaded: 6, left: 7, lastMs: 2000 }]]);
        assert.equal((await sink.load('a', 2001)).baselines.length, 0);
        assert.equal((await sink.load('other', 0)).baselines.length, 0);
        assert.equal(await sink.expireBaselines('a', 2001), 1);
        assert.equal((await sink.load('a', 0)).baselines.length, 0);
      }));
    }

    if (caps.atomicFailure) {
      it('stores nothing of a batch that fails', () => withSink(async (sink) => {
        await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 7 })] });
        await caps.atomicFailure!(sink);
        assert.deepEqual((await totalsOf(sink, USER_A))!.up, 7n);
        assert.equal((await sink.load('a', 0)).appliedThrough, 1);
      }));
    }
  });
}
