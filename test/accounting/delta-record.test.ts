import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RECORD_SIZE, decodeRecord, encodeRecord } from '../../src/accounting/delta-record.js';
import { delta } from '../support/deltas.js';

describe('delta record', () => {
  it('encodes and decodes every field exactly, binary ids included', () => {
    for (const d of [
      delta(1),
      delta(2, { baseline: null, event: 'stopped', snatch: false, ip: '203.0.113.7', siteTorrentId: null, creditUp: 0 }),
      delta(4, { siteTorrentId: 0, creditDown: 2 ** 52 }),
      delta(2 ** 53 - 1, { ip: '2001:db8::1', event: 'completed', uploaded: 2 ** 40 + 3, seedTime: 4_000_000_000 }),
    ]) {
      const rec = encodeRecord(d);
      assert.equal(rec.length, RECORD_SIZE);
      assert.deepEqual(decodeRecord(rec), d);
    }
    assert.equal(decodeRecord(encodeRecord(delta(5, { ip: '1:0:0:2:0:0:0:3' }))).ip, '1:0:0:2::3');
    const bad = encodeRecord(delta(3));
    bad[RECORD_SIZE - 4] ^= 0xff; // the trailer
    assert.throws(() => decodeRecord(bad), /bad journal record/);
    assert.throws(() => decodeRecord(encodeRecord(delta(3)).subarray(0, RECORD_SIZE - 1)), /bad journal record/);
  });

});
