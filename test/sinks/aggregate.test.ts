import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { aggregate, aggregateBatch, byRowKey } from '../../src/sinks/aggregate.js';
import { encodeRecord } from '../../src/accounting/delta-record.js';
import { delta } from '../support/deltas.js';

/** Users and info_hashes with bytes ≥ 0x80 and shared prefixes, where a wrong comparison would show. */
function keys(n: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = randomBytes(size);
    if (i % 3 === 0) b.fill(0xff, 0, size - 2); // long shared prefix of 0xff
    if (i % 5 === 0) b[0] = 0x80;
    out.push(b);
  }
  return out;
}

describe('aggregate: the rows\' keys and their order', () => {
  it('sorts torrent rows by (user, info_hash) bytes and user rows by user bytes, from records and from objects alike', () => {
    const users = keys(40, 16);
    const hashes = keys(60, 20);
    const deltas = Array.from({ length: 2000 }, (_, i) => delta(i + 1, {
      user: users[(i * 7) % users.length]!, infoHash: hashes[(i * 13) % hashes.length]!,
    }));
    const records = Buffer.concat(deltas.map(encodeRecord));
    for (const agg of [aggregate(deltas, 0), aggregateBatch({ id: 2000, instance: 'i', deltas, records }, 0)]) {
      for (const r of agg.torrents) assert.equal(r.key, r.user.toString('latin1') + r.infoHash.toString('latin1'));
      for (const u of agg.users) assert.equal(u.key, u.user.toString('latin1'));
      const torrents = [...agg.torrents].sort(byRowKey).map((r) => Buffer.concat([r.user, r.infoHash]).toString('hex'));
      const bytewise = [...agg.torrents].sort((a, b) => Buffer.compare(a.user, b.user) || Buffer.compare(a.infoHash, b.infoHash))
        .map((r) => Buffer.concat([r.user, r.infoHash]).toString('hex'));
      assert.deepEqual(torrents, bytewise);
      assert.deepEqual([...agg.users].sort(byRowKey).map((u) => u.user.toString('hex')),
        [...agg.users].sort((a, b) => Buffer.compare(a.user, b.user)).map((u) => u.user.toString('hex')));
      assert.ok(agg.torrents.length > 100 && agg.users.length === users.length, `${agg.torrents.length} torrent rows, ${agg.users.length} users`);
    }
  });
});
