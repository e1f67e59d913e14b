import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { aggregate, aggregateBatch, type Aggregate } from '../../src/sinks/aggregate.js';
import type { StatDelta } from '../../src/accounting/delta.js';
import { encodeRecord } from '../../src/accounting/delta-record.js';
import { delta } from '../support/deltas.js';

/** Users and info_hashes with bytes ≥ 0x80 and shared prefixes, where a wrong comparison would show. */
function keys(n: number, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = randomBytes(size);
    if (i % 3 === 0) b.fill(0xff, 0, size - 2); // long shared prefix of 0xff
    if (i % 5 === 0) b[0] = 0x80;
    if (i % 7 === 0) b.fill(0x00, 0, 7); // shared beyond the 6-byte prefix the sort compares first
    out.push(b);
  }
  return out;
}

const hex = (...b: Buffer[]) => Buffer.concat(b).toString('hex');

interface ModelRow {
  user: string; uploaded: number; downloaded: number; rawUploaded: number; rawDownloaded: number;
  seedTime: number; leechTime: number; firstMs: number; lastMs: number; siteTorrentId?: number | null; snatched?: number;
}

/** What the fold must produce, the obvious way: a Map of rows, keyed by hex, in hex order. */
function model(deltas: readonly StatDelta[], appliedThrough: number) {
  const torrents = new Map<string, ModelRow>();
  const users = new Map<string, ModelRow>();
  let count = 0;
  let firstSeq = 0;
  let through = appliedThrough;
  const add = (m: Map<string, ModelRow>, key: string, d: StatDelta, torrent: boolean) => {
    let r = m.get(key);
    if (r === undefined) {
      r = { user: d.user.toString('hex'), uploaded: 0, downloaded: 0, rawUploaded: 0, rawDownloaded: 0, seedTime: 0, leechTime: 0, firstMs: d.timeMs, lastMs: d.timeMs };
      if (torrent) Object.assign(r, { siteTorrentId: null, snatched: 0 });
      m.set(key, r);
    }
    r.uploaded += d.creditUp;
    r.downloaded += d.creditDown;
    r.rawUploaded += d.deltaUp;
    r.rawDownloaded += d.deltaDown;
    r.seedTime += d.seedTime;
    r.leechTime += d.leechTime;
    r.firstMs = Math.min(r.firstMs, d.timeMs);
    r.lastMs = Math.max(r.lastMs, d.timeMs);
    if (torrent && d.siteTorrentId !== null) r.siteTorrentId = d.siteTorrentId;
    if (torrent && d.snatch) r.snatched = 1;
  };
  for (const d of deltas) {
    if (d.seq <= appliedThrough) continue;
    if (count++ === 0) firstSeq = d.seq;
    through = Math.max(through, d.seq);
    add(torrents, hex(d.user, d.infoHash), d, true);
    add(users, hex(d.user), d, false);
  }
  const sorted = (m: Map<string, ModelRow>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    torrents: sorted(torrents).map(([key, r]) => ({ key, ...r })),
    users: sorted(users).map(([key, r]) => ({ key, ...r })),
    count, firstSeq, through,
  };
}

function plain(agg: Aggregate) {
  return {
    torrents: agg.torrents.map((r) => ({
      key: hex(r.user, r.infoHash), user: r.user.toString('hex'), uploaded: r.uploaded, downloaded: r.downloaded, rawUploaded: r.rawUploaded,
      rawDownloaded: r.rawDownloaded, seedTime: r.seedTime, leechTime: r.leechTime, firstMs: r.firstMs, lastMs: r.lastMs,
      siteTorrentId: r.siteTorrentId, snatched: r.snatched,
    })),
    users: agg.users.map((r) => ({
      key: hex(r.user), user: r.user.toString('hex'), uploaded: r.uploaded, downloaded: r.downloaded, rawUploaded: r.rawUploaded,
      rawDownloaded: r.rawDownloaded, seedTime: r.seedTime, leechTime: r.leechTime, firstMs: r.firstMs, lastMs: r.lastMs,
    })),
    count: agg.count, firstSeq: agg.firstSeq, through: agg.through,
  };
}

/** Deltas over `users` × `hashes` with repeats, every field varied (site IDs 0, large and none; snatches; times out of order). */
function randomDeltas(n: number, users: Buffer[], hashes: Buffer[]): StatDelta[] {
  const r = (k: number) => Math.floor(Math.random() * k);
  return Array.from({ length: n }, (_, i) => delta(i + 1, {
    user: users[r(users.length)]!, infoHash: hashes[r(hashes.length)]!, ip: i % 2 === 0 ? '10.0.0.1' : '2001:db8::1',
    deltaUp: r(2 ** 40), deltaDown: r(2 ** 40), creditUp: r(2 ** 41), creditDown: r(2 ** 20), seedTime: r(3600), leechTime: r(3600),
    siteTorrentId: i % 3 === 0 ? null : i % 3 === 1 ? 0 : 2 ** 53 - 1 - r(1000), snatch: r(10) === 0,
    timeMs: 1_700_000_000_000 + r(1_000_000),
  }));
}

describe('aggregate: folding a batch into rows', () => {
  it('sums every field per (user, info_hash) and per user, as a model does, from records and from objects alike', () => {
    // 30 users: most fold; 3,000 users: more than the first user table holds (it grows).
    for (const [userCount, hashCount] of [[30, 50], [3000, 3]] as const) {
    const deltas = randomDeltas(5000, keys(userCount, 16), keys(hashCount, 20));
    const records = Buffer.concat(deltas.map(encodeRecord));
    for (const through of [0, 1234]) {
      const want = model(deltas, through);
      assert.ok(want.torrents.length > 500 && want.torrents.length < 4500, `${want.torrents.length} rows: some fold, most do not`);
      assert.ok(want.users.length === userCount || userCount > 1024, `${want.users.length} users`);
      assert.deepEqual(plain(aggregate(deltas, through)), want);
      assert.deepEqual(plain(aggregateBatch({ id: 5000, instance: 'i', deltas, records }, through)), want);
    }
    }
  });

  it('returns rows in byte order of user then info_hash, and users in byte order (the sinks write them so)', () => {
    const users = keys(40, 16);
    const hashes = keys(60, 20);
    const deltas = Array.from({ length: 2000 }, (_, i) => delta(i + 1, {
      user: users[(i * 7) % users.length]!, infoHash: hashes[(i * 13) % hashes.length]!,
    }));
    const records = Buffer.concat(deltas.map(encodeRecord));
    for (const agg of [aggregate(deltas, 0), aggregateBatch({ id: 2000, instance: 'i', deltas, records }, 0)]) {
      const got = agg.torrents.map((r) => hex(r.user, r.infoHash));
      const bytewise = [...agg.torrents].sort((a, b) => Buffer.compare(a.user, b.user) || Buffer.compare(a.infoHash, b.infoHash))
        .map((r) => hex(r.user, r.infoHash));
      assert.deepEqual(got, bytewise);
      assert.deepEqual(agg.users.map((u) => hex(u.user)), [...agg.users].sort((a, b) => Buffer.compare(a.user, b.user)).map((u) => hex(u.user)));
      assert.ok(agg.torrents.length > 100 && agg.users.length === users.length, `${agg.torrents.length} torrent rows, ${agg.users.length} users`);
    }
  });

  it('reads records at any byte offset, and its rows do not change when the records are reused', () => {
    const deltas = randomDeltas(300, keys(5, 16), keys(7, 20));
    const records = Buffer.concat(deltas.map(encodeRecord));
    const want = model(deltas, 0);
    const shifted = Buffer.alloc(records.length + 3);
    records.copy(shifted, 3);
    const odd = shifted.subarray(3); // byteOffset % 4 === 3: no Int32Array view of it in place
    const agg = aggregateBatch({ id: 300, instance: 'i', deltas, records: odd }, 0);
    assert.deepEqual(plain(agg), want);
    odd.fill(0x5a);
    records.fill(0x5a);
    assert.deepEqual(plain(agg), want);
  });

  it('passes a delta with a malformed id on unfolded, its ids as they are (so the schema refuses the batch)', () => {
    const user = randomBytes(16);
    const infoHash = randomBytes(20);
    const good = delta(1, { user, infoHash, deltaUp: 5 });
    const shortUser = delta(2, { user: user.subarray(1), infoHash, deltaUp: 7 });
    const longHash = delta(3, { user, infoHash: Buffer.alloc(21, 1), deltaUp: 11 });
    const agg = aggregate([good, shortUser, longHash, delta(4, { user, infoHash, deltaUp: 13 })], 0);
    assert.deepEqual(agg.torrents.map((r) => [r.user.length, r.infoHash.length, r.rawUploaded]), [[16, 20, 18], [15, 20, 7], [16, 21, 11]]);
    assert.deepEqual(agg.users.map((r) => [r.user.length, r.rawUploaded]), [[16, 18], [15, 7], [16, 11]]);
    assert.equal(agg.count, 4);
  });

  it('an empty batch, or one already applied, has no rows', () => {
    const deltas = randomDeltas(10, keys(2, 16), keys(2, 20));
    for (const agg of [aggregate([], 0), aggregate(deltas, 10), aggregateBatch({ id: 10, instance: 'i', deltas, records: Buffer.concat(deltas.map(encodeRecord)) }, 10)]) {
      assert.deepEqual({ t: agg.torrents.length, u: agg.users.length, count: agg.count }, { t: 0, u: 0, count: 0 });
    }
    assert.equal(aggregate(deltas, 10).through, 10);
  });
});
