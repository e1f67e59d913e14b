import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { PrivtrakHook } from '../../../src/middleware/privtrak/privtrak-hook.js';
import { BaselineStore } from '../../../src/middleware/privtrak/baselines.js';
import { privtrakOptionsSchema } from '../../../src/middleware/privtrak/options.js';
import { createContext } from '../../../src/middleware/context.js';
import type { AnnounceEvent, AnnounceRequest } from '../../../src/bittorrent/types.js';
import { ClientError } from '../../../src/bittorrent/errors.js';
import { MemorySink } from '../../support/memory-sink.js';
import { mmapOrSkip } from '../../support/native.js';
import { PASSKEY_A, PASSKEY_B, TEST_SECRET, announce, announceWith, byHex, keyOf, makeHook, removeHookDirs, req, resp, settle, totalsOf, trackDir } from '../../support/hook-driver.js';
import { siteUserKey } from '../../../src/accounting/user-key.js';

afterEach(removeHookDirs);

describe('privtrak hook', () => {
  it('identifies the user from the route parameter or the query, and refuses missing or malformed passkeys', async () => {
    const hook = makeHook(new MemorySink());
    await hook.start();
    try {
      const ctx = announce(hook, PASSKEY_A, req('-qB4520-a', 0, 0, 10, 'started'));
      // Open mode: a keyed hash of the passkey, never the passkey itself; the same in either case.
      assert.deepEqual(ctx.userId, keyOf(PASSKEY_A));
      assert.notDeepEqual(ctx.userId, Buffer.from(PASSKEY_A, 'hex'));
      assert.deepEqual(announce(hook, PASSKEY_B, req('-qB4520-b', 0, 0, 10, 'started'), 'query').userId, keyOf(PASSKEY_B));
      assert.deepEqual(announce(hook, PASSKEY_B.toUpperCase(), req('-qB4520-b', 0, 0, 10, 'none')).userId, keyOf(PASSKEY_B));
      // A site user (user_approval set the ID): the site key, whatever the passkey.
      const site = createContext({ passkey: PASSKEY_A }, {});
      site.siteUserId = 42;
      assert.deepEqual(announceWith(hook, site, req('-qB4520-s', 0, 0, 10, 'started')).userId, siteUserKey(42));
      assert.throws(() => announce(hook, undefined, req('-qB4520-c', 0, 0, 10, 'started')), (e: ClientError) => e.code === 'UNAUTHORIZED' && /missing passkey/.test(e.message));
      assert.throws(() => announce(hook, 'xyz', req('-qB4520-c', 0, 0, 10, 'started')), /malformed passkey/);
      assert.throws(() => announce(hook, PASSKEY_A.slice(1), req('-qB4520-c', 0, 0, 10, 'started')), /malformed passkey/);
    } finally {
      await hook.stop();
    }
  });

  it('keeps two clients of one user on one torrent apart and sums them exactly', async () => {
    const sink = new MemorySink();
    const hook = makeHook(sink);
    await hook.start();
    announce(hook, PASSKEY_A, req('-qB4520-one', 100, 0, 0, 'started'));
    announce(hook, PASSKEY_A, req('-TR3000-two', 0, 0, 50, 'started'));
    announce(hook, PASSKEY_A, req('-qB4520-one', 300, 0, 0, 'none'));
    announce(hook, PASSKEY_A, req('-TR3000-two', 10, 50, 0, 'completed'));
    announce(hook, PASSKEY_A, req('-TR3000-two', 10, 50, 0, 'completed'));
    announce(hook, PASSKEY_A, req('-qB4520-one', 350, 0, 0, 'stopped'));
    await hook.stop();
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 360n, down: 50n, snatched: 1n });
    assert.equal(sink.closed, true);
    assert.equal(hook.baselines.size, 1, 'the stopped client left, the other stays');
  });

  it('credits raw × the freeleech multipliers from the context, keeps the raw bytes, and carries the site torrent ID', async () => {
    const sink = new MemorySink();
    const hook = makeHook(sink);
    await hook.start();
    const withPolicy = (r: AnnounceRequest, up: number | undefined, down: number | undefined, site: number | undefined) => {
      const ctx = createContext({ passkey: PASSKEY_A }, {});
      ctx.uploadMultiplier = up;
      ctx.downloadMultiplier = down;
      ctx.siteTorrentId = site;
      announceWith(hook, ctx, r);
    };
    withPolicy(req('-qB4520-fl', 0, 0, 1000, 'started'), 2, 0, 7);
    await settle();
    withPolicy(req('-qB4520-fl', 1001, 333, 667, 'none'), 2, 0, 7); // freeleech, double upload
    await settle();
    withPolicy(req('-qB4520-fl', 2001, 777, 223, 'none'), 1.5, 0.5, 7); // half leech: 444 × 0.5 = 222, 1000 × 1.5
    await settle();
    withPolicy(req('-qB4520-fl', 2101, 778, 222, 'none'), undefined, undefined, undefined); // no policy hooks: ×1
    await hook.stop();
    const [t] = await sink.totals({ user: keyOf(PASSKEY_A), byTorrent: true });
    assert.deepEqual([t!.uploaded, t!.downloaded, t!.rawUploaded, t!.rawDownloaded, t!.siteTorrentId],
      [2002n + 1500n + 100n, 0n + 222n + 1n, 2101n, 778n, 7n]);
    const deltas = sink.batches.flatMap((b) => b.deltas);
    assert.deepEqual(deltas.map((d) => [d.deltaUp, d.creditUp, d.deltaDown, d.creditDown, d.siteTorrentId]),
      [[0, 0, 0, 0, 7], [1001, 2002, 333, 0, 7], [1000, 1500, 444, 222, 7], [100, 100, 1, 1, null]]);
  });

  it('flushes when a batch is full, and on flush_interval otherwise', async () => {
    const sink = new MemorySink();
    const hook = makeHook(sink, { batch_size: 3, flush_interval: '200ms' });
    await hook.start();
    try {
      for (let i = 0; i < 3; i++) announce(hook, PASSKEY_A, req(`-qB4520-${i}`, i, 0, 0, 'started'));
      await new Promise((r) => setImmediate(r));
      await hook.flusher.flush();
      assert.equal(sink.batches.length, 1);
      assert.equal(sink.batches[0]!.deltas.length, 3);
      announce(hook, PASSKEY_A, req('-qB4520-x', 7, 0, 0, 'started'));
      const began = Date.now();
      while (sink.batches.length < 2 && Date.now() - began < 2000) await new Promise((r) => setTimeout(r, 20));
      assert.equal(sink.batches.length, 2);
      assert.equal(sink.batches[1]!.id, 4);
    } finally {
      await hook.stop();
    }
  });

  it('keeps deltas when the sink fails, refuses announces past max_pending, and catches up when the sink returns', async () => {
    const sink = new MemorySink();
    sink.failWith = new Error('database down');
    const hook = makeHook(sink, { batch_size: 2, max_pending: 4, max_retry_backoff: '100ms' });
    await hook.start();
    try {
      for (let i = 0; i < 4; i++) announce(hook, PASSKEY_A, req(`-qB4520-${i}`, 10, 0, 0, 'started'));
      await settle();
      await hook.flusher.flush();
      assert.equal(hook.flusher.pending, 4);
      assert.throws(() => announce(hook, PASSKEY_A, req('-qB4520-9', 10, 0, 0, 'started')), (e: ClientError) => e.code === 'TRACKER_BUSY');
      sink.failWith = undefined;
      const began = Date.now();
      while (hook.flusher.pending > 0 && Date.now() - began < 3000) await new Promise((r) => setTimeout(r, 20));
      assert.equal(hook.flusher.pending, 0);
      // The refused announce changed nothing: its retry is counted in full.
      announce(hook, PASSKEY_A, req('-qB4520-9', 10, 0, 0, 'started'));
    } finally {
      await hook.stop();
    }
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 50n, down: 0n, snatched: 0n });
  });

  it('never runs two flushes of the same deltas at once', async () => {
    const sink = new MemorySink();
    let release!: () => void;
    sink.gate = new Promise((r) => { release = r; });
    const hook = makeHook(sink, { batch_size: 1 });
    await hook.start();
    announce(hook, PASSKEY_A, req('-qB4520-a', 10, 0, 0, 'started'));
    await settle();
    const first = hook.flusher.flush();
    const second = hook.flusher.flush();
    assert.equal(first, second);
    release();
    await first;
    await hook.stop();
    assert.equal(sink.batches.length, 1);
  });

  it('reuses one batch\'s memory for the next, and a failed batch is retried with the same deltas', async () => {
    const sink = new MemorySink();
    const lent: ArrayBufferLike[] = [];
    const seen: number[][] = [];
    const apply = sink.apply.bind(sink);
    sink.apply = async (batch) => {
      lent.push(batch.records!.buffer);
      seen.push(batch.deltas.map((d) => d.seq));
      return apply(batch);
    };
    const hook = makeHook(sink, { batch_size: 5, flush_interval: '1h' });
    await hook.start();
    try {
      for (let i = 0; i < 12; i++) announce(hook, PASSKEY_A, req(`-qB4520-${String(i).padStart(3, 'x')}`, 10, 0, 0, 'started'));
      await settle();
      sink.failWith = new Error('database down');
      await hook.flusher.flush();
      sink.failWith = undefined;
      hook.flusher['retryAtMs'] = 0;
      assert.equal(await hook.flusher.drain(Date.now() + 5000), 0);
      assert.deepEqual(seen, [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]], 'the retry carries the same deltas');
      assert.ok(lent.every((b) => b === lent[0]), 'every batch in the first batch\'s memory');
      assert.deepEqual(sink.batches.flatMap((b) => b.deltas.map((d) => d.seq)), Array.from({ length: 12 }, (_, i) => i + 1));
      assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 120n, down: 0n, snatched: 0n });
    } finally {
      await hook.stop();
    }
  });

  it('refuses announces with "closing" during shutdown and flushes what is pending', async () => {
    const sink = new MemorySink();
    const hook = makeHook(sink, { flush_interval: '1h' });
    await hook.start();
    announce(hook, PASSKEY_A, req('-qB4520-a', 10, 0, 0, 'started'));
    const stopping = hook.stop();
    assert.throws(() => announce(hook, PASSKEY_A, req('-qB4520-a', 20, 0, 0, 'none')), (e: ClientError) => e.code === 'CLOSING');
    await stopping;
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 10n, down: 0n, snatched: 0n });
  });

  it('resumes after a crash from the sink plus the journal: nothing lost, nothing doubled', async () => {
    const sink = new MemorySink();
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-crash-'));
    trackDir(dir);
    const first = makeHook(sink, { flush_interval: '1h', batch_size: 100 }, dir);
    await first.start();
    announce(first, PASSKEY_A, req('-qB4520-a', 100, 0, 0, 'started'));
    announce(first, PASSKEY_A, req('-qB4520-a', 150, 0, 0, 'none'));
    await settle();
    await first.flusher.flush(); // seqs 1-2 applied
    announce(first, PASSKEY_A, req('-qB4520-a', 400, 0, 0, 'stopped')); // journalled, never flushed
    announce(first, PASSKEY_B, req('-qB4520-b', 0, 30, 5, 'started'));
    await settle(); // the replies went out: from here on the clients consider them counted
    // "Crash": the first instance is abandoned without stop().
    const second = makeHook(sink, { flush_interval: '1h' }, dir);
    await second.start();
    assert.equal(second.flusher.pending, 2);
    // The retried stopped and B's next announce are counted once, on top of the replayed ones.
    announce(second, PASSKEY_A, req('-qB4520-a', 400, 0, 0, 'stopped'));
    announce(second, PASSKEY_B, req('-qB4520-b', 0, 35, 0, 'none')); // B's leecher is now a seeder: its snatch
    await second.stop();
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 400n, down: 0n, snatched: 0n });
    assert.deepEqual(await totalsOf(sink, PASSKEY_B), { up: 0n, down: 35n, snatched: 1n });
    assert.equal(Math.max(...sink.batches.map((b) => b.id)), 6);
  });

  it('restores baselines from a checkpoint written while announces went on, plus the journal after it', async () => {
    const sink = new MemorySink();
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-ckpt-'));
    trackDir(dir);
    const first = makeHook(sink, { flush_interval: '1h', shard_count: 8 }, dir);
    await first.start();
    const peers = Array.from({ length: 40 }, (_, i) => `-qB4520-p${String(i).padStart(3, '0')}`);
    const counters = new Map(peers.map((p) => [p, 0]));
    for (const p of peers) announce(first, PASSKEY_A, req(p, 0, 0, 100, 'started', Buffer.alloc(20, peers.indexOf(p))));
    await settle();
    // Announces between the checkpoint's shards: the file is fuzzy, the journal after it makes it exact.
    const checkpoint = first.checkpoint();
    for (let round = 1; round <= 12; round++) {
      for (const p of peers.slice(round, round + 10)) {
        counters.set(p, counters.get(p)! + 1000);
        announce(first, PASSKEY_A, req(p, counters.get(p)!, 0, 100, 'none', Buffer.alloc(20, peers.indexOf(p))));
      }
      await new Promise((r) => setImmediate(r));
    }
    await checkpoint;
    announce(first, PASSKEY_A, req(peers[0]!, 5, 0, 100, 'stopped', Buffer.alloc(20, 0)));
    counters.delete(peers[0]!);
    await settle();
    await first.flusher.flush();
    const before = byHex(first.baselines);
    assert.equal(before.size, 39);
    // "Crash": abandoned without stop(); a second instance restores from the checkpoint and the journal.
    const second = makeHook(sink, { flush_interval: '1h', shard_count: 8 }, dir);
    await second.start();
    assert.deepEqual(byHex(second.baselines), before);
    // They stop as leechers (left as before): no download completed, no snatch.
    for (const [p, up] of counters) announce(second, PASSKEY_A, req(p, up + 1, 0, 100, 'stopped', Buffer.alloc(20, peers.indexOf(p))));
    await settle();
    await second.stop();
    const sum = [...counters.values()].reduce((a, b) => a + b, 0) + counters.size + 5;
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: BigInt(sum), down: 0n, snatched: 0n });
  });

  it('deletes journal segments once both the sink and the previous checkpoint cover them (the journal reaches back one checkpoint)', async () => {
    const sink = new MemorySink();
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-prune-'));
    trackDir(dir);
    const hook = makeHook(sink, { flush_interval: '1h' }, dir);
    await hook.start();
    const segments = () => readdirSync(dir).filter((f) => f.startsWith('journal-')).length;
    try {
      announce(hook, PASSKEY_A, req('-qB4520-a', 1, 0, 0, 'started'));
      await settle();
      await hook.checkpoint(); // covers seq 1, but the sink has nothing yet: the segment stays
      announce(hook, PASSKEY_A, req('-qB4520-a', 2, 0, 0, 'none'));
      await settle();
      assert.equal(segments(), 2);
      await hook.flusher.flush(); // sink through 2, a checkpoint through 1 but none before it: everything stays
      assert.equal(segments(), 2, 'kept back to the previous checkpoint (there is none yet)');
      await hook.checkpoint(); // through 2; the previous one (through 1) and the sink cover segment 1
      assert.equal(segments(), 2, 'segment 1 went; segment 2 (seq 2) and the new open one remain');
      assert.ok(existsSync(join(dir, 'baselines.ckpt.prev')), 'the previous checkpoint is kept');
      await hook.checkpoint(); // nothing new: the previous checkpoint is now through 2
      assert.equal(segments(), 1, 'only the open segment remains');
    } finally {
      await hook.stop();
    }
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 2n, down: 0n, snatched: 0n });
  });

  for (const io of ['write', 'mmap'] as const) {
    it(`refuses a whole commit group when the journal cannot be written (disk full), counting none of it (journal_io: ${io})`, async (t) => {
      if (io === 'mmap' && mmapOrSkip(t) === undefined) return;
      // A real full disk: a 64 KiB tmpfs (needs root; CI runs as root).
      const mnt = mkdtempSync(join(tmpdir(), 'privtrak-full-'));
      trackDir(mnt);
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
      if (mounted.status !== 0) {
        if (process.env['CI'] === 'true') throw new Error(`cannot mount a tmpfs in CI: ${mounted.stderr}`);
        t.skip('needs root to mount a small tmpfs (a real full disk)');
        return;
      }
      const sink = new MemorySink();
      const hook = makeHook(sink, { flush_interval: '1h', journal_dir: mnt, journal_io: io });
      try {
        await hook.start();
        // Fill the disk, leaving too little for one commit group of 40 records (8,320 bytes).
        const filler = join(mnt, 'filler');
        writeFileSync(filler, Buffer.alloc(64 * 1024 - 4096));
        const refused = Array.from({ length: 40 }, (_, i) => hook.handleAnnounce(
          createContext({ passkey: PASSKEY_A }, {}), req(`-qB4520-${String(i).padStart(3, '0')}`, 100, 0, 0, 'started'), resp()) ?? Promise.resolve());
        const results = await Promise.allSettled(refused);
        assert.ok(results.every((r) => r.status === 'rejected' && (r.reason as ClientError).code === 'TRACKER_BUSY'), 'every announce of the group is refused');
        assert.equal(hook.baselines.size, 0, 'no baseline changed');
        assert.equal(hook.flusher.pending, 0, 'nothing reached the flusher');
        // /ready (frontend/readiness.ts) takes this node out while its journal cannot be written.
        assert.equal(hook.notReady(), 'journal write failed in the last 5 s');
        // Space again: the clients retry, and each is counted once, in full.
        rmSync(filler);
        for (let i = 0; i < 40; i++) announce(hook, PASSKEY_A, req(`-qB4520-${String(i).padStart(3, '0')}`, 100, 0, 0, 'started'));
        await settle();
        // Ready again 5 s after the last failure (the clock is moved, not waited for).
        const realNow = Date.now;
        try {
          Date.now = () => realNow() + 5_001;
          assert.equal(hook.notReady(), undefined, 'writes succeed again: ready once the failure is 5 s old');
        } finally {
          Date.now = realNow;
        }
        await hook.stop();
        assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 4000n, down: 0n, snatched: 0n });
        assert.deepEqual(sink.batches.flatMap((b) => b.deltas.map((d) => d.seq)), Array.from({ length: 40 }, (_, i) => i + 1), 'seqs reused, no gap');
      } finally {
        await hook.stop();
        spawnSync('umount', [mnt]);
      }
    });
  }

  it('reports itself to Prometheus: deltas by flag, refusals, users and peers tracked and active, pending, flushes', async () => {
    const sink = new MemorySink();
    const registry = new Registry();
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-metrics-'));
    trackDir(dir);
    const opts = privtrakOptionsSchema.parse({ journal_dir: dir, flush_interval: '1h', prometheus_reporting_interval: '50ms', peer_lifetime: '1h' });
    const hook = new PrivtrakHook(opts, sink, { logger: pino({ level: 'silent' }), prometheus: registry, announceIntervalMs: 1_800_000 }, { userKeySecret: TEST_SECRET });
    await hook.start();
    try {
      announce(hook, PASSKEY_A, req('-qB4520-aaa', 10, 0, 0, 'started'));
      announce(hook, PASSKEY_A, req('-qB4520-bbb', 10, 0, 0, 'none')); // unknown peer
      announce(hook, PASSKEY_B, req('-qB4520-ccc', 10, 0, 0, 'started'));
      await settle();
      announce(hook, PASSKEY_A, req('-qB4520-aaa', 5, 0, 0, 'none')); // counter regression
      await settle();
      assert.throws(() => announce(hook, 'nope', req('-qB4520-ddd', 0, 0, 0, 'started')));
      // An old baseline that no longer counts as active.
      hook.baselines.set(Buffer.alloc(56, 'x'), { uploaded: 0, downloaded: 0, left: 0, lastMs: Date.now() - 7_200_000 });
      await new Promise((r) => setTimeout(r, 120));
      const text = await registry.metrics();
      const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1]);
      assert.equal(value('privtrak_deltas_total{flag="none"}'), 2);
      assert.equal(value('privtrak_deltas_total{flag="unknown_peer"}'), 1);
      assert.equal(value('privtrak_deltas_total{flag="counter_regression"}'), 1);
      assert.equal(value('privtrak_announces_refused_total{reason="identity"}'), 1);
      assert.equal(value('privtrak_users_tracked'), 3, 'two passkeys plus the test baseline');
      assert.equal(value('privtrak_peers_tracked'), 4);
      assert.equal(value('privtrak_peers_active'), 3);
      assert.equal(value('privtrak_deltas_pending'), 4);
      const age = value('privtrak_deltas_oldest_pending_seconds');
      assert.ok(age > 0 && age < 10, `oldest pending age ${age} s`);
      await hook.flusher.flush();
      assert.equal(value('privtrak_flush_duration_seconds_count'), 0, 'read before the flush');
      const after = await registry.metrics();
      assert.match(after, /^privtrak_flush_duration_seconds_count 1$/m);
      assert.match(after, /^privtrak_journal_records 4$/m);
    } finally {
      await hook.stop();
    }
  });

  it('answers inline while event-loop turns hold one announce each, groups again when they hold many, and counts exactly either way', async () => {
    const sink = new MemorySink();
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-inline-'));
    trackDir(dir);
    // write(2) journal: the test makes an inline write fail by closing its file under it.
    const hook = makeHook(sink, { flush_interval: '1h', journal_io: 'write' }, dir);
    await hook.start();
    const one = (peer: string, up: number, event: AnnounceEvent) =>
      hook.handleAnnounce(createContext({ passkey: PASSKEY_A }, {}), req(peer, up, 0, 0, event), resp());
    let expected = 0;
    let singles = 0;
    try {
      // One announce per turn: after a few grouped turns the hook switches to inline replies.
      const kinds: string[] = [];
      for (let i = 0; i < 60; i++) {
        const p = one(`-qB4520-s${String(i).padStart(3, '0')}`, 10, 'started');
        expected += 10;
        kinds.push(p === undefined ? 'inline' : 'group');
        if (p !== undefined) await p;
        else await new Promise((r) => setImmediate(r));
      }
      assert.equal(kinds[0], 'group');
      // Once inline, the turns are measured again by probes that hold no reply back: no more groups.
      assert.deepEqual(kinds.slice(5), Array(55).fill('inline'), kinds.join(','));
      // Many announces per turn: back to groups (one write and one deferred reply per turn).
      let grouped = 0;
      for (let turn = 0; turn < 20; turn++) {
        const ps = Array.from({ length: 30 }, (_, i) => one(`-qB4520-m${String(turn * 30 + i).padStart(4, '0')}`, 1, 'started'));
        expected += 30;
        grouped += ps.filter((p) => p !== undefined).length;
        await Promise.all(ps);
        await new Promise((r) => setImmediate(r)); // the turn ends (inline replies alone would not end it)
      }
      assert.ok(grouped >= 20 * 30 - 40, `grouped ${grouped} of 600`);
      assert.equal(hook.flusher.pending, 60 + 600, 'every announce reached the flusher once');
      // An inline write that fails (here the journal's file descriptor is closed under it) refuses
      // that announce at once and changes nothing.
      singles = 0;
      for (let inline = 0; inline < 3 && singles < 40; singles++) {
        const p = one(`-qB4520-x${String(singles).padStart(3, '0')}`, 5, 'started');
        expected += 5;
        if (p === undefined) inline++;
        await (p ?? new Promise((r) => setImmediate(r)));
      }
      assert.ok(singles < 40, 'back to inline replies once turns hold one announce again');
      const segment = (hook as unknown as { journal: { current: { fd: number } } }).journal.current;
      closeSync(segment.fd);
      const baselines = hook.baselines.size;
      // The write fails and so does cutting it back: the journal abandons the segment for a new one.
      assert.throws(() => one('-qB4520-zz', 7, 'started'), (e: ClientError) => e.code === 'TRACKER_BUSY');
      assert.equal(hook.baselines.size, baselines);
    } finally {
      await hook.stop();
    }
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: BigInt(expected), down: 0n, snatched: 0n });
    assert.deepEqual(sink.batches.flatMap((b) => b.deltas.map((d) => d.seq)), Array.from({ length: 660 + singles }, (_, i) => i + 1));
  });

  it('purges baselines older than baseline_lifetime with many expired and live entries in every position', async () => {
    const hook = makeHook(new MemorySink(), { shard_count: 4, baseline_lifetime: '1h' });
    await hook.start();
    try {
      const now = Date.now();
      const live: Buffer[] = [];
      for (let i = 0; i < 400; i++) {
        const key = `k${i}`;
        const user = Buffer.alloc(16, i % 7);
        const ih = Buffer.alloc(20, i % 256);
        const peer = Buffer.from(key.padEnd(20, '-'));
        const expired = i % 3 === 0 || i < 10 || i >= 390;
        const k = BaselineStore.key(user, ih, peer);
        hook.baselines.set(k, { uploaded: i, downloaded: 0, left: 0, lastMs: expired ? now - 7_200_000 : now });
        if (!expired) live.push(k);
      }
      const removed = await hook.collectGarbage(now);
      assert.equal(removed, 400 - live.length);
      assert.equal(hook.baselines.size, live.length);
      for (const k of live) assert.ok(hook.baselines.get(k), 'live baseline kept');
      assert.equal(await hook.collectGarbage(now), 0);
    } finally {
      await hook.stop();
    }
  });
});
