/**
 * The conformance suite every DeltaSink passes, called in one line per sink: exact totals,
 * idempotent retries (also regrouped), snatches counted once, 64-bit totals, per-user
 * queries, and an atomic failed batch.
 *
 *   runSinkSuite('sqlite', makeSink, cleanup, { atomicFailure })
 *
 * `makeSink` returns a fresh, opened, empty sink for each test (the suite closes it);
 * `cleanup` runs once after the suite (drop schemas, remove temp dirs).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DeltaSink, TotalsRow } from '../../src/sinks/sink.js';
import type { StatDelta } from '../../src/accounting/delta.js';
import type { AnnounceEvent } from '../../src/bittorrent/types.js';
import { RecordBatch } from '../../src/accounting/record-batch.js';
import { encodeRecord } from '../../src/accounting/delta-record.js';
import { FencedError } from '../../src/sinks/sink-errors.js';

// 16-byte users, 20-byte info hashes and peer ids; A < B and IH1 < IH2 in byte order.
export const USER_A = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
export const USER_B = Buffer.from('fedcba9876543210fedcba9876543210', 'hex');
export const USER_C = Buffer.from('80000000000000000000000000000001', 'hex');
export const IH1 = Buffer.alloc(20, 0x01);
export const IH2 = Buffer.alloc(20, 0xf2);
export const PEER_1 = Buffer.from('-qB4520-aaaaaaaaaaaa');
export const PEER_2 = Buffer.from('-TR3000-bbbbbbbbbbbb');

/**
 * A delta of USER_A on IH1 from PEER_1 at time 1_700_000_000_000 + seq, crediting nothing unless
 * overridden; credited bytes equal the raw ones unless creditUp/creditDown say otherwise.
 */
export function delta(seq: number, over: Partial<StatDelta> = {}): StatDelta {
  const base: StatDelta = {
    seq, user: USER_A, infoHash: IH1, peerId: PEER_1, ip: '10.0.0.1', port: 6881,
    event: 'none' as AnnounceEvent, uploaded: 0, downloaded: 0, left: 0, deltaUp: 0, deltaDown: 0, creditUp: 0, creditDown: 0,
    siteTorrentId: null, seedTime: 0, leechTime: 0,
    snatch: false, flags: 0, timeMs: 1_700_000_000_000 + seq, baseline: { uploaded: 0, downloaded: 0, left: 0, lastMs: 1_700_000_000_000 + seq },
    ...over,
  };
  return { ...base, creditUp: over.creditUp ?? base.deltaUp, creditDown: over.creditDown ?? base.deltaDown };
}

export interface SinkCapabilities {
  /** Provokes an apply that fails halfway (and asserts it rejects); the suite checks nothing was stored. */
  atomicFailure?: (sink: DeltaSink) => Promise<void>;
  /** Another sink on the same store (a second tracker instance's connection), opened; the suite closes it. */
  secondSink?: (sink: DeltaSink) => Promise<DeltaSink>;
  /**
   * How the sink treats DeltaBatch.fence: 'checks' (the SQL sinks, the default) against its
   * recorded token, in the apply transaction; 'refuses' (the log sink) every fenced batch.
   */
  fencing?: 'checks' | 'refuses';
}

type Sums = { up: bigint; down: bigint; seed: bigint; leech: bigint; snatched: bigint };
const sums = (r: TotalsRow): Sums => ({ up: r.uploaded, down: r.downloaded, seed: r.seedTime, leech: r.leechTime, snatched: r.snatched });
const hex = (b: Buffer | undefined) => b?.toString('hex');

async function totalsOf(sink: DeltaSink, user: Buffer): Promise<Sums | undefined> {
  const rows = await sink.totals({ user, byTorrent: false });
  assert.ok(rows.length <= 1, 'at most one row per user');
  return rows[0] && sums(rows[0]);
}

async function everything(sink: DeltaSink) {
  const users = await sink.totals({ byTorrent: false });
  const torrents = await sink.totals({ byTorrent: true });
  return {
    users: users.map((r) => [hex(r.user), sums(r)]),
    torrents: torrents.map((r) => [hex(r.user), hex(r.infoHash), sums(r)]),
  };
}

export function runSinkSuite(name: string, makeSink: () => Promise<DeltaSink>, cleanup: () => Promise<void> | void, caps: SinkCapabilities = {}): void {
  describe(`sink conformance: ${name}`, () => {
    after(async () => {
      await cleanup();
    });
    const withSink = (fn: (s: DeltaSink) => Promise<void>) => async () => {
      const sink = await makeSink();
      try {
        await fn(sink);
      } finally {
        await sink.close();
      }
    };

    it('applies a batch into exact per-user and per-torrent totals, ordered by user then info_hash', withSink(async (sink) => {
      assert.deepEqual(await sink.totals({ byTorrent: false }), [], 'a fresh sink is empty');
      assert.equal((await sink.load('a')).appliedThrough, 0);
      await sink.apply({ id: 5, instance: 'a', deltas: [
        delta(1, { user: USER_B, deltaUp: 1, deltaDown: 2, seedTime: 3, leechTime: 4 }),
        delta(2, { deltaUp: 100, deltaDown: 10, seedTime: 30 }),
        delta(3, { deltaUp: 50, infoHash: IH2, leechTime: 7 }),
        delta(4, { deltaUp: 5, deltaDown: 6, peerId: PEER_2 }),
        delta(5, { user: USER_C, infoHash: IH2, deltaDown: 9 }),
      ] });
      assert.deepEqual(await everything(sink), {
        users: [
          [hex(USER_A), { up: 155n, down: 16n, seed: 30n, leech: 7n, snatched: 0n }],
          [hex(USER_C), { up: 0n, down: 9n, seed: 0n, leech: 0n, snatched: 0n }],
          [hex(USER_B), { up: 1n, down: 2n, seed: 3n, leech: 4n, snatched: 0n }],
        ],
        torrents: [
          [hex(USER_A), hex(IH1), { up: 105n, down: 16n, seed: 30n, leech: 0n, snatched: 0n }],
          [hex(USER_A), hex(IH2), { up: 50n, down: 0n, seed: 0n, leech: 7n, snatched: 0n }],
          [hex(USER_C), hex(IH2), { up: 0n, down: 9n, seed: 0n, leech: 0n, snatched: 0n }],
          [hex(USER_B), hex(IH1), { up: 1n, down: 2n, seed: 3n, leech: 4n, snatched: 0n }],
        ],
      });
      assert.equal((await sink.load('a')).appliedThrough, 5);
      // Totals keep adding up across batches.
      await sink.apply({ id: 6, instance: 'a', deltas: [delta(6, { deltaUp: 1000, infoHash: IH2 })] });
      assert.deepEqual(await totalsOf(sink, USER_A), { up: 1155n, down: 16n, seed: 30n, leech: 7n, snatched: 0n });
    }));

    it('answers per-user queries: one user, per user or per torrent, and nothing for an unknown user', withSink(async (sink) => {
      await sink.apply({ id: 3, instance: 'a', deltas: [
        delta(1, { deltaUp: 10 }), delta(2, { user: USER_B, deltaUp: 20 }), delta(3, { user: USER_B, infoHash: IH2, deltaUp: 30 }),
      ] });
      const b = await sink.totals({ user: USER_B, byTorrent: false });
      assert.deepEqual(b.map((r) => [hex(r.user), r.infoHash, r.uploaded]), [[hex(USER_B), undefined, 50n]]);
      const bt = await sink.totals({ user: USER_B, byTorrent: true });
      assert.deepEqual(bt.map((r) => [hex(r.user), hex(r.infoHash), r.uploaded]), [[hex(USER_B), hex(IH1), 20n], [hex(USER_B), hex(IH2), 30n]]);
      assert.deepEqual(await sink.totals({ user: USER_C, byTorrent: false }), []);
      assert.deepEqual(await sink.totals({ user: USER_C, byTorrent: true }), []);
      for (const r of [...b, ...bt]) {
        for (const v of [r.uploaded, r.downloaded, r.seedTime, r.leechTime, r.snatched]) assert.equal(typeof v, 'bigint');
      }
    }));

    it('applies a batch of journal records (the tracker\'s form) exactly as the same deltas, retries included', withSink(async (sink) => {
      const deltas = [
        delta(1, { user: USER_B, deltaUp: 1, deltaDown: 2, seedTime: 3, leechTime: 4 }),
        delta(2, { deltaUp: 2 ** 52 + 1, deltaDown: 10, seedTime: 30, snatch: true, event: 'completed' }),
        delta(3, { deltaUp: 50, infoHash: IH2, leechTime: 7 }),
        delta(4, { deltaUp: 2 ** 52 + 1, peerId: PEER_2 }),
        delta(5, { user: USER_C, infoHash: IH2, deltaDown: 9 }),
      ];
      const asRecords = (ds: StatDelta[]) => new RecordBatch('a', Buffer.concat(ds.map((d) => encodeRecord(d))));
      await sink.apply(asRecords(deltas.slice(0, 3)));
      await sink.apply(asRecords(deltas.slice(1))); // regrouped retry: only 4..5 are new
      assert.equal((await sink.load('a')).appliedThrough, 5);
      assert.deepEqual(await everything(sink), {
        users: [
          [hex(USER_A), { up: 2n * BigInt(2 ** 52 + 1) + 50n, down: 10n, seed: 30n, leech: 7n, snatched: 1n }],
          [hex(USER_C), { up: 0n, down: 9n, seed: 0n, leech: 0n, snatched: 0n }],
          [hex(USER_B), { up: 1n, down: 2n, seed: 3n, leech: 4n, snatched: 0n }],
        ],
        torrents: [
          [hex(USER_A), hex(IH1), { up: 2n * BigInt(2 ** 52 + 1), down: 10n, seed: 30n, leech: 0n, snatched: 1n }],
          [hex(USER_A), hex(IH2), { up: 50n, down: 0n, seed: 0n, leech: 7n, snatched: 0n }],
          [hex(USER_C), hex(IH2), { up: 0n, down: 9n, seed: 0n, leech: 0n, snatched: 0n }],
          [hex(USER_B), hex(IH1), { up: 1n, down: 2n, seed: 3n, leech: 4n, snatched: 0n }],
        ],
      });
    }));

    it('totals credited bytes (freeleech), keeps the raw bytes beside them, and the site\'s torrent ID per torrent', withSink(async (sink) => {
      // Freeleech on IH1 (download ×0) with double upload; IH2 normal. Objects, then the same kind as records.
      await sink.apply({ id: 2, instance: 'a', deltas: [
        delta(1, { deltaUp: 100, creditUp: 200, deltaDown: 50, creditDown: 0, siteTorrentId: 42 }),
        delta(2, { infoHash: IH2, deltaUp: 7, deltaDown: 9 }),
      ] });
      await sink.apply(new RecordBatch('a', Buffer.concat([
        encodeRecord(delta(3, { deltaUp: 1, creditUp: 2, deltaDown: 30, creditDown: 0 })), // no site ID this time: 42 stays
        encodeRecord(delta(4, { infoHash: IH2, deltaUp: 1, deltaDown: 1, siteTorrentId: 2 ** 40 })),
      ])));
      const [user] = await sink.totals({ user: USER_A, byTorrent: false });
      assert.deepEqual([user!.uploaded, user!.downloaded, user!.rawUploaded, user!.rawDownloaded], [210n, 10n, 109n, 90n]);
      const torrents = await sink.totals({ user: USER_A, byTorrent: true });
      assert.deepEqual(torrents.map((r) => [hex(r.infoHash), r.uploaded, r.downloaded, r.rawUploaded, r.rawDownloaded, r.siteTorrentId]), [
        [hex(IH1), 202n, 0n, 101n, 80n, 42n],
        [hex(IH2), 8n, 10n, 8n, 10n, BigInt(2 ** 40)],
      ]);
    }));

    it('changes nothing when the same batch is applied twice', withSink(async (sink) => {
      const batch = { id: 3, instance: 'a', deltas: [
        delta(1, { deltaUp: 10, deltaDown: 1, seedTime: 5 }), delta(2, { user: USER_B, deltaUp: 20, snatch: true }), delta(3, { infoHash: IH2, leechTime: 9 }),
      ] };
      await sink.apply(batch);
      const once = await everything(sink);
      await sink.apply(batch);
      assert.deepEqual(await everything(sink), once);
      assert.equal((await sink.load('a')).appliedThrough, 3);
    }));

    it('applies only the new part of a regrouped batch (1..5, then 3..8: only 6..8)', withSink(async (sink) => {
      // Each seq credits a distinct power of two: the sum tells exactly which seqs were applied.
      const d = (s: number) => delta(s, { deltaUp: 2 ** s });
      await sink.apply({ id: 5, instance: 'a', deltas: [1, 2, 3, 4, 5].map(d) });
      await sink.apply({ id: 8, instance: 'a', deltas: [3, 4, 5, 6, 7, 8].map(d) });
      assert.equal((await totalsOf(sink, USER_A))!.up, BigInt(2 ** 9 - 2));
      assert.equal((await sink.load('a')).appliedThrough, 8);
      // A stale retry entirely below the mark, and an empty batch, change nothing.
      await sink.apply({ id: 4, instance: 'a', deltas: [2, 3, 4].map(d) });
      await sink.apply({ id: 8, instance: 'a', deltas: [] });
      assert.equal((await totalsOf(sink, USER_A))!.up, BigInt(2 ** 9 - 2));
      assert.equal((await sink.load('a')).appliedThrough, 8);
      // Another instance has its own mark: its seqs 1..2 are new.
      await sink.apply({ id: 2, instance: 'b', deltas: [1, 2].map((s) => delta(s, { deltaUp: 1 })) });
      assert.equal((await totalsOf(sink, USER_A))!.up, BigInt(2 ** 9));
      assert.equal((await sink.load('b')).appliedThrough, 2);
      assert.equal((await sink.load('a')).appliedThrough, 8);
    }));

    it('counts a snatch once per user and torrent, even with two completed deltas', withSink(async (sink) => {
      await sink.apply({ id: 2, instance: 'a', deltas: [delta(1, { snatch: true, event: 'completed' }), delta(2, { snatch: true, event: 'completed' })] });
      await sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { snatch: true, event: 'completed', peerId: PEER_2 })] });
      await sink.apply({ id: 5, instance: 'a', deltas: [delta(4, { snatch: true, event: 'completed', infoHash: IH2 }), delta(5, { user: USER_B })] });
      assert.equal((await totalsOf(sink, USER_A))!.snatched, 2n);
      assert.equal((await totalsOf(sink, USER_B))!.snatched, 0n);
      const rows = await sink.totals({ user: USER_A, byTorrent: true });
      assert.deepEqual(rows.map((r) => [hex(r.infoHash), r.snatched]), [[hex(IH1), 1n], [hex(IH2), 1n]]);
    }));

    it('keeps totals exact beyond 2^53', withSink(async (sink) => {
      const half = 2 ** 52 + 1;
      const max = Number.MAX_SAFE_INTEGER;
      // Summed in the store, across batches: 2^52+1 + 2^52+1 = 2^53+2 (odd sums like +1 below are not doubles).
      await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: half, deltaDown: max, seedTime: half })] });
      await sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: half, deltaDown: max, seedTime: half })] });
      await sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { deltaUp: 1, deltaDown: 1, infoHash: IH2 })] });
      const expected = { up: 2n * BigInt(half) + 1n, down: 2n * BigInt(max) + 1n, seed: 2n * BigInt(half), leech: 0n, snatched: 0n };
      assert.deepEqual(await totalsOf(sink, USER_A), expected);
      assert.equal((await sink.totals({ user: USER_A, byTorrent: true }))[0]!.downloaded, 2n * BigInt(max));
      // Two large deltas in one batch, plus an odd one in the store.
      await sink.apply({ id: 5, instance: 'a', deltas: [delta(4, { user: USER_B, deltaUp: half }), delta(5, { user: USER_B, deltaUp: half })] });
      await sink.apply({ id: 6, instance: 'a', deltas: [delta(6, { user: USER_B, deltaUp: 3 })] });
      assert.equal((await totalsOf(sink, USER_B))!.up, 2n * BigInt(half) + 3n);
    }));

    if (caps.secondSink) {
      it('applies concurrent retries of the same batch exactly once (the mark is locked)', withSink(async (sink) => {
        const other = await caps.secondSink!(sink);
        try {
          const batch = { id: 40, instance: 'a', deltas: Array.from({ length: 40 }, (_, i) => delta(i + 1, { deltaUp: 1, user: i % 2 ? USER_A : USER_B })) };
          await Promise.all([sink.apply(batch), other.apply(batch), sink.apply(batch), other.apply(batch)]);
          const rows = await sink.totals({ byTorrent: false });
          assert.deepEqual(rows.map((r) => r.uploaded), [20n, 20n]);
        } finally {
          await other.close();
        }
      }));
    }

    if (caps.atomicFailure) {
      it('stores nothing of a batch that fails', withSink(async (sink) => {
        await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 7, baseline: { uploaded: 7, downloaded: 0, left: 0, lastMs: 1000 } })] });
        const before = await everything(sink);
        const loaded = await sink.load('a');
        await caps.atomicFailure!(sink);
        assert.deepEqual(await everything(sink), before);
        assert.deepEqual(await sink.load('a'), loaded);
        // The same seqs, retried without the bad delta, are then applied in full.
        await sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 100 })] });
        assert.equal((await totalsOf(sink, USER_A))!.up, 107n);
      }));
    }

    const fenced = (err: unknown) => err instanceof FencedError && err.code === 'SINK_FENCED';
    if ((caps.fencing ?? 'checks') === 'checks') {
      it('refuses a batch whose fence token is below the recorded one (nothing written), accepts an equal or higher one', withSink(async (sink) => {
        const up = (s: number) => delta(s, { deltaUp: 2 ** s });
        await sink.apply({ id: 2, instance: 'a', deltas: [up(1), up(2)], fence: { name: 'drain', token: 5 } });
        const afterFive = await everything(sink);
        await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [up(3)], fence: { name: 'drain', token: 4 } }), fenced);
        assert.deepEqual(await everything(sink), afterFive, 'a stale token writes nothing');
        assert.equal((await sink.load('a')).appliedThrough, 2, 'nor moves the mark');
        await sink.apply({ id: 3, instance: 'a', deltas: [up(3)], fence: { name: 'drain', token: 5 } }); // equal: the same holder
        await sink.apply({ id: 4, instance: 'a', deltas: [up(4)], fence: { name: 'drain', token: 7 } }); // higher: a new holder
        // The holder of 5 and 6 are both behind 7 now, in the records form (the drainer's) too.
        await assert.rejects(sink.apply({ id: 5, instance: 'a', deltas: [up(5)], fence: { name: 'drain', token: 6 } }), fenced);
        await assert.rejects(sink.apply(new RecordBatch('a', encodeRecord(up(5)), { name: 'drain', token: 5 })), fenced);
        assert.equal((await totalsOf(sink, USER_A))!.up, BigInt(2 + 4 + 8 + 16));
        assert.equal((await sink.load('a')).appliedThrough, 4);
        // Another fence name has its own token; a batch without a fence (single-instance mode) is not checked.
        await sink.apply(new RecordBatch('a', encodeRecord(up(5)), { name: 'other', token: 1 }));
        await sink.apply({ id: 6, instance: 'a', deltas: [up(6)] });
        await sink.apply({ id: 7, instance: 'a', deltas: [up(7)], fence: { name: 'drain', token: 7 } });
        assert.equal((await totalsOf(sink, USER_A))!.up, BigInt(2 ** 8 - 2));
        assert.equal((await sink.load('a')).appliedThrough, 7);
      }));

      if (caps.secondSink) {
        it('serializes fenced writers on two connections: the newer token always writes, the older only if it came first', withSink(async (sink) => {
          const other = await caps.secondSink!(sink);
          try {
            const batch = (instance: string, token: number) => ({
              id: 10, instance, deltas: Array.from({ length: 10 }, (_, i) => delta(i + 1, { deltaUp: 1 })), fence: { name: 'drain', token },
            });
            // Four groups' batches at once (as drainers of two holdings would send them): one fence row, four mark rows.
            const results = await Promise.allSettled([sink.apply(batch('g0', 1)), other.apply(batch('g1', 2)), sink.apply(batch('g2', 1)), other.apply(batch('g3', 2))]);
            assert.deepEqual([results[1]!.status, results[3]!.status], ['fulfilled', 'fulfilled']);
            for (const r of results) if (r.status === 'rejected') assert.ok(fenced(r.reason), String(r.reason));
            const applied = results.filter((r) => r.status === 'fulfilled').length;
            assert.equal((await totalsOf(sink, USER_A))!.up, BigInt(10 * applied));
            await assert.rejects(sink.apply(batch('g4', 1)), fenced);
          } finally {
            await other.close();
          }
        }));
      }

      if (caps.atomicFailure) {
        it('records the fence in the batch\'s transaction: a failed batch leaves the old token in force', withSink(async (sink) => {
          await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 1 })], fence: { name: 'drain', token: 3 } });
          // Token 9 with a 15-byte user id: the CHECK fails the whole batch, the fence included.
          await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(2, { deltaUp: 10 }), delta(3, { user: USER_A.subarray(1) })],
            fence: { name: 'drain', token: 9 } }), (err: unknown) => !fenced(err));
          await sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 100 })], fence: { name: 'drain', token: 4 } });
          assert.equal((await totalsOf(sink, USER_A))!.up, 101n);
          assert.equal((await sink.load('a')).appliedThrough, 2);
          await assert.rejects(sink.apply({ id: 3, instance: 'a', deltas: [delta(3, { deltaUp: 1000 })], fence: { name: 'drain', token: 3 } }), fenced);
          assert.equal((await totalsOf(sink, USER_A))!.up, 101n);
        }));
      }
    } else {
      it('refuses every fenced batch (FencedError, nothing written): it cannot check a fence', withSink(async (sink) => {
        await sink.apply({ id: 1, instance: 'a', deltas: [delta(1, { deltaUp: 1 })] });
        await assert.rejects(sink.apply({ id: 2, instance: 'a', deltas: [delta(2, { deltaUp: 10 })], fence: { name: 'drain', token: 1 } }),
          (err: unknown) => fenced(err) && /needs? a SQL sink/.test((err as Error).message));
        assert.equal((await totalsOf(sink, USER_A))!.up, 1n);
        assert.equal((await sink.load('a')).appliedThrough, 1);
      }));
    }
  });
}
