import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PendingQueue } from '../../../src/middleware/privtrak/pending-queue.js';
import { decodeRecords } from '../../../src/accounting/record-batch.js';
import { encodeRecord, RECORD_SIZE } from '../../../src/accounting/delta-record.js';
import type { StatDelta } from '../../../src/accounting/delta.js';

function delta(seq: number): StatDelta {
  return {
    seq, user: Buffer.alloc(16, seq & 0xff), infoHash: Buffer.alloc(20, 1), peerId: Buffer.from('-qB4520-kQyTIjZChReA'),
    ip: '10.0.0.1', port: 6881, event: 'none', uploaded: seq * 10, downloaded: 0, left: 0, deltaUp: seq, deltaDown: 0,
    creditUp: seq, creditDown: 0, siteTorrentId: null,
    seedTime: 0, leechTime: 0, snatch: false, flags: 0, timeMs: 1_700_000_000_000 + seq, baseline: null,
  };
}

describe('pending queue', () => {
  it('keeps deltas in order through growth, partial drops and compaction, mixing objects and raw records', () => {
    const q = new PendingQueue();
    assert.equal(q.size, 0);
    assert.equal(q.oldestTimeMs(), undefined);
    let next = 1;
    let expectHead = 1;
    for (let round = 0; round < 20; round++) {
      // Appends of varying size (some as encoded record runs, like the commit path), then a partial drop.
      const n = 300 + round * 97;
      for (let i = 0; i < n; i++) {
        if (i % 3 === 0) q.pushRecords(Buffer.concat([encodeRecord(delta(next))]));
        else q.push(delta(next));
        next++;
      }
      assert.equal(q.size, next - expectHead);
      assert.equal(q.oldestTimeMs(), 1_700_000_000_000 + expectHead);
      const batch = q.peek(500);
      assert.deepEqual(batch.map((d) => d.seq), Array.from({ length: Math.min(500, q.size) }, (_, i) => expectHead + i));
      assert.equal(batch[0]!.uploaded, expectHead * 10);
      q.drop(batch.length);
      expectHead += batch.length;
    }
    while (q.size > 0) {
      const batch = q.peek(1000);
      assert.equal(batch[0]!.seq, expectHead);
      q.drop(batch.length);
      expectHead += batch.length;
    }
    assert.equal(expectHead, next);
    assert.equal(q.oldestTimeMs(), undefined);
    q.push(delta(next));
    assert.deepEqual(q.peek(10).map((d) => d.seq), [next], 'usable again after emptying');
  });

  it('copies a batch into the room it is given when it fits, and into memory of its own otherwise', () => {
    const q = new PendingQueue();
    for (let seq = 1; seq <= 30; seq++) q.push(delta(seq));
    const first = q.peekRecords(20);
    assert.equal(first.length, 20 * RECORD_SIZE);
    assert.equal(first.buffer.byteLength, first.length, 'memory of its own, not a slice of a shared pool');
    q.drop(20);
    const second = q.peekRecords(20, first);
    assert.equal(second.buffer, first.buffer, 'the room is reused');
    assert.deepEqual(decodeRecords(second).map((d) => d.seq), Array.from({ length: 10 }, (_, i) => 21 + i));
    for (let seq = 31; seq <= 60; seq++) q.push(delta(seq));
    const third = q.peekRecords(30, second);
    assert.notEqual(third.buffer, first.buffer, 'a room too small is not written past its end');
    assert.deepEqual(decodeRecords(third).map((d) => d.seq), Array.from({ length: 30 }, (_, i) => 21 + i));
  });
});
