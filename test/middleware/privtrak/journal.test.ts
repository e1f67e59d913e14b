import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../../src/middleware/privtrak/journal.js';
import { RECORD_SIZE, decodeRecord, encodeRecord } from '../../../src/middleware/privtrak/journal-record.js';
import type { StatDelta } from '../../../src/middleware/privtrak/delta.js';

function delta(seq: number, over: Partial<StatDelta> = {}): StatDelta {
  return {
    seq, user: Buffer.alloc(16, 0xab), infoHash: Buffer.alloc(20, seq & 0xff), peerId: Buffer.from('-qB4520-kQyTIjZChReA'),
    ip: '::1', port: 51413, event: 'started', uploaded: 2 ** 53 - 1, downloaded: 7, left: 0, deltaUp: 5, deltaDown: 6,
    seedTime: 60, leechTime: 0, snatch: true, flags: 2, timeMs: 1_700_000_000_123,
    baseline: { uploaded: 1, downloaded: 2, left: 3, lastMs: 4 }, ...over,
  };
}

describe('journal', () => {
  it('encodes and decodes every field exactly, binary ids included', () => {
    for (const d of [
      delta(1),
      delta(2, { baseline: null, event: 'stopped', snatch: false, ip: '203.0.113.7' }),
      delta(2 ** 53 - 1, { ip: '2001:db8::1', event: 'completed', uploaded: 2 ** 40 + 3, seedTime: 4_000_000_000 }),
    ]) {
      const rec = encodeRecord(d);
      assert.equal(rec.length, RECORD_SIZE);
      assert.deepEqual(decodeRecord(rec), d);
    }
    assert.equal(decodeRecord(encodeRecord(delta(5, { ip: '1:0:0:2:0:0:0:3' }))).ip, '1:0:0:2::3');
    const bad = encodeRecord(delta(3));
    bad[180] ^= 0xff;
    assert.throws(() => decodeRecord(bad), /bad journal record/);
    assert.throws(() => decodeRecord(encodeRecord(delta(3)).subarray(0, RECORD_SIZE - 1)), /bad journal record/);
  });

  it('replays records across segments in seq order, ignores a torn last line, prunes applied segments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-journal-'));
    try {
      const j = new Journal(dir);
      assert.deepEqual(j.replay(), []);
      j.roll(1);
      j.append(delta(1));
      j.append(delta(2));
      j.roll(3);
      j.roll(3); // nothing written yet: no empty segment piles up
      j.append(delta(3));
      j.close();
      assert.equal(readdirSync(dir).length, 2);
      appendFileSync(join(dir, readdirSync(dir).sort()[1]!), encodeRecord(delta(4)).subarray(0, 100));
      const again = new Journal(dir);
      assert.deepEqual(again.replay().map((d) => d.seq), [1, 2, 3]);
      again.roll(4);
      again.append(delta(4));
      assert.equal(again.prune(1), 0, 'segment 1-2 still holds seq 2');
      assert.equal(again.prune(2), 1);
      assert.equal(again.prune(4), 1, 'the open segment is kept');
      assert.equal(again.segmentCount, 1);
      again.close();
      assert.deepEqual(new Journal(dir).replay().map((d) => d.seq), [4]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
