import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { PrivtrakHook } from '../../../src/middleware/privtrak/privtrak-hook.js';
import { privtrakOptionsSchema } from '../../../src/middleware/privtrak/options.js';
import { createContext } from '../../../src/middleware/context.js';
import { makePeer } from '../../../src/bittorrent/ip.js';
import type { AnnounceEvent, AnnounceRequest, AnnounceResponse } from '../../../src/bittorrent/types.js';
import { ClientError } from '../../../src/bittorrent/errors.js';
import { MemorySink } from '../../support/memory-sink.js';

const PASSKEY_A = '0123456789abcdef0123456789abcdef';
const PASSKEY_B = 'fedcba9876543210fedcba9876543210';
const IH = Buffer.alloc(20, 0x11);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function makeHook(sink: MemorySink, over: Record<string, unknown> = {}, journalDir?: string): PrivtrakHook {
  const dir = journalDir ?? mkdtempSync(join(tmpdir(), 'privtrak-hook-'));
  if (!journalDir) dirs.push(dir);
  const opts = privtrakOptionsSchema.parse({ journal_dir: dir, flush_interval: '50ms', ...over });
  return new PrivtrakHook(opts, sink, { logger: pino({ level: 'silent' }), metrics: new Registry(), announceIntervalMs: 1_800_000 });
}

function req(peer: string, uploaded: number, downloaded: number, left: number, event: AnnounceEvent, ih = IH): AnnounceRequest {
  return {
    infoHash: ih, peer: makePeer(Buffer.from(peer.padEnd(20, '0')), '127.0.0.1', 6881), event, uploaded, downloaded, left,
    numWant: 50, compact: true, noPeerId: true, transport: 'http',
  };
}

const resp = (): AnnounceResponse => ({ interval: 1, minInterval: 1, complete: 0, incomplete: 0, ipv4Peers: [], ipv6Peers: [] });

function announce(hook: PrivtrakHook, passkey: string | undefined, r: AnnounceRequest, where: 'param' | 'query' = 'param') {
  const params: Record<string, string> = passkey !== undefined && where === 'param' ? { passkey } : {};
  const query: Record<string, string> = passkey !== undefined && where === 'query' ? { passkey } : {};
  const ctx = createContext(params, query);
  hook.handleAnnounce(ctx, r, resp());
  return ctx;
}

async function totalsOf(sink: MemorySink, passkey: string) {
  const rows = await sink.totals({ user: Buffer.from(passkey, 'hex'), byTorrent: false });
  return rows[0] === undefined ? undefined : { up: rows[0].uploaded, down: rows[0].downloaded, snatched: rows[0].snatched };
}

describe('privtrak hook', () => {
  it('identifies the user from the route parameter or the query, and refuses missing or malformed passkeys', async () => {
    const hook = makeHook(new MemorySink());
    await hook.start();
    try {
      const ctx = announce(hook, PASSKEY_A, req('-qB4520-a', 0, 0, 10, 'started'));
      assert.deepEqual(ctx.userId, Buffer.from(PASSKEY_A, 'hex'));
      assert.deepEqual(announce(hook, PASSKEY_B, req('-qB4520-b', 0, 0, 10, 'started'), 'query').userId, Buffer.from(PASSKEY_B, 'hex'));
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
    const first = hook.flusher.flush();
    const second = hook.flusher.flush();
    assert.equal(first, second);
    release();
    await first;
    await hook.stop();
    assert.equal(sink.batches.length, 1);
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
    dirs.push(dir);
    const first = makeHook(sink, { flush_interval: '1h', batch_size: 100 }, dir);
    await first.start();
    announce(first, PASSKEY_A, req('-qB4520-a', 100, 0, 0, 'started'));
    announce(first, PASSKEY_A, req('-qB4520-a', 150, 0, 0, 'none'));
    await first.flusher.flush(); // seqs 1-2 applied
    announce(first, PASSKEY_A, req('-qB4520-a', 400, 0, 0, 'stopped')); // journalled, never flushed
    announce(first, PASSKEY_B, req('-qB4520-b', 0, 30, 5, 'started'));
    // "Crash": the first instance is abandoned without stop().
    const second = makeHook(sink, { flush_interval: '1h' }, dir);
    await second.start();
    assert.equal(second.flusher.pending, 2);
    // The retried stopped and B's next announce are counted once, on top of the replayed ones.
    announce(second, PASSKEY_A, req('-qB4520-a', 400, 0, 0, 'stopped'));
    announce(second, PASSKEY_B, req('-qB4520-b', 0, 35, 0, 'none'));
    await second.stop();
    assert.deepEqual(await totalsOf(sink, PASSKEY_A), { up: 400n, down: 0n, snatched: 0n });
    assert.deepEqual(await totalsOf(sink, PASSKEY_B), { up: 0n, down: 35n, snatched: 0n });
    assert.equal(Math.max(...sink.batches.map((b) => b.id)), 6);
  });

  it('purges baselines older than baseline_lifetime with many expired and live entries in every position', async () => {
    const hook = makeHook(new MemorySink(), { shard_count: 4, baseline_lifetime: '1h' });
    await hook.start();
    try {
      const now = Date.now();
      const live: string[] = [];
      for (let i = 0; i < 400; i++) {
        const key = `k${i}`;
        const user = Buffer.alloc(16, i % 7);
        const ih = Buffer.alloc(20, i % 256);
        const peer = Buffer.from(key.padEnd(20, '-'));
        const expired = i % 3 === 0 || i < 10 || i >= 390;
        const k = `${user.toString('latin1')}${ih.toString('latin1')}${peer.toString('latin1')}`;
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
