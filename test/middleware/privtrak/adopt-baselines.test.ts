/**
 * First start in front of a site (DeltaSink.adoptableBaselines): the counters the previous
 * announce server left for each live peer become baselines, so a peer's first announce to
 * privtrak is counted from them instead of being an unknown peer's zero; on any later start the
 * journal and checkpoints are the truth, and nothing is adopted again.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdoptedBaseline } from '../../../src/sinks/sink.js';
import { MemorySink } from '../../support/memory-sink.js';
import { PASSKEY_A, IH, announce, keyOf, makeHook, removeHookDirs, req, settle, totalsOf, trackDir } from '../../support/hook-driver.js';

afterEach(removeHookDirs);

/** A sink that offers the old server's counters, and counts how often it was asked. */
class SiteLikeSink extends MemorySink {
  asked = 0;
  constructor(private readonly offered: AdoptedBaseline[]) {
    super();
  }
  async adoptableBaselines(): Promise<AdoptedBaseline[]> {
    this.asked++;
    return this.offered;
  }
}

const PEER = '-qB4520-adoptpeer01';
const peerId = Buffer.from(PEER.padEnd(20, '0'));

describe('adopting a site\'s last peer counters on the first start', () => {
  it('a live peer\'s next announce is counted from the old server\'s counters; stale ones are not adopted', async () => {
    const now = Date.now();
    const sink = new SiteLikeSink([
      { user: keyOf(PASSKEY_A), infoHash: IH, peerId, baseline: { uploaded: 5_000, downloaded: 700, left: 0, lastMs: now - 60_000 } },
      // Last seen before baseline_lifetime: would be purged at once, so it is not adopted.
      { user: keyOf(PASSKEY_A), infoHash: Buffer.alloc(20, 0x77), peerId, baseline: { uploaded: 9, downloaded: 9, left: 0, lastMs: now - 30 * 86_400_000 } },
    ]);
    const hook = makeHook(sink);
    await hook.start();
    assert.equal(sink.asked, 1);
    announce(hook, PASSKEY_A, req(PEER, 8_000, 700, 0, 'none'));
    // Without adoption this would be an unknown peer: 0 credited.
    announce(hook, PASSKEY_A, req(PEER, 9, 9, 0, 'none', Buffer.alloc(20, 0x77)));
    await settle();
    await hook.stop();
    const t = await totalsOf(sink, PASSKEY_A);
    assert.deepEqual(t && { up: t.up, down: t.down }, { up: 3_000n, down: 0n }, 'counted from the adopted 5,000 / 700; the stale one not adopted');
  });

  it('is asked only on the very first start: a restart restores from the checkpoint and journal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-adopt-'));
    trackDir(dir);
    const sink = new SiteLikeSink([{ user: keyOf(PASSKEY_A), infoHash: IH, peerId, baseline: { uploaded: 100, downloaded: 0, left: 0, lastMs: Date.now() } }]);
    const first = makeHook(sink, {}, dir);
    await first.start();
    await first.stop();
    // The adopted baseline survives the restart in the checkpoint, though no announce ever journalled it.
    const second = makeHook(sink, {}, dir);
    await second.start();
    assert.equal(sink.asked, 1, 'not asked again');
    announce(second, PASSKEY_A, req(PEER, 150, 0, 0, 'none'));
    await settle();
    await second.stop();
    const t = await totalsOf(sink, PASSKEY_A);
    assert.equal(t?.up, 50n);
  });
});
