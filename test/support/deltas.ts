/** A StatDelta with every field set (edge values included), for codec and journal tests. */
import type { StatDelta } from '../../src/accounting/delta.js';

export function delta(seq: number, over: Partial<StatDelta> = {}): StatDelta {
  return {
    seq, user: Buffer.alloc(16, 0xab), infoHash: Buffer.alloc(20, seq & 0xff), peerId: Buffer.from('-qB4520-kQyTIjZChReA'),
    ip: '::1', port: 51413, event: 'started', uploaded: 2 ** 53 - 1, downloaded: 7, left: 0, deltaUp: 5, deltaDown: 6,
    creditUp: 10, creditDown: 0, siteTorrentId: 2 ** 53 - 2,
    seedTime: 60, leechTime: 0, snatch: true, flags: 2, timeMs: 1_700_000_000_123,
    baseline: { uploaded: 1, downloaded: 2, left: 3, lastMs: 4 }, ...over,
  };
}
