/**
 * Folds a batch into the rows a sink writes: one per (user, info_hash) and one per user.
 * A user with 40 deltas in a batch becomes one row update.
 * Deltas at or below `appliedThrough` are skipped (already applied by an earlier attempt).
 */
import type { StatDelta } from '../middleware/privtrak/delta.js';

export interface TorrentRow {
  user: Buffer;
  infoHash: Buffer;
  uploaded: number;
  downloaded: number;
  seedTime: number;
  leechTime: number;
  /** 1 if any delta was a `completed`: a snatch is counted once per (user, info_hash). */
  snatched: number;
  firstMs: number;
  lastMs: number;
}

export interface UserRow {
  user: Buffer;
  uploaded: number;
  downloaded: number;
  seedTime: number;
  leechTime: number;
  firstMs: number;
  lastMs: number;
}

export interface Aggregate {
  torrents: TorrentRow[];
  users: UserRow[];
  /** The deltas actually applied (seq above appliedThrough), for raw logs. */
  applied: StatDelta[];
  /** Highest seq in the batch. */
  through: number;
}

export function aggregate(deltas: readonly StatDelta[], appliedThrough: number): Aggregate {
  const torrents = new Map<string, TorrentRow>();
  const users = new Map<string, UserRow>();
  const applied: StatDelta[] = [];
  let through = appliedThrough;
  for (const d of deltas) {
    if (d.seq <= appliedThrough) continue;
    if (d.seq > through) through = d.seq;
    applied.push(d);
    const userKey = d.user.toString('latin1');
    const torrentKey = userKey + d.infoHash.toString('latin1');
    let t = torrents.get(torrentKey);
    if (t === undefined) {
      t = { user: d.user, infoHash: d.infoHash, uploaded: 0, downloaded: 0, seedTime: 0, leechTime: 0, snatched: 0, firstMs: d.timeMs, lastMs: d.timeMs };
      torrents.set(torrentKey, t);
    }
    t.uploaded += d.deltaUp;
    t.downloaded += d.deltaDown;
    t.seedTime += d.seedTime;
    t.leechTime += d.leechTime;
    if (d.snatch) t.snatched = 1;
    if (d.timeMs < t.firstMs) t.firstMs = d.timeMs;
    if (d.timeMs > t.lastMs) t.lastMs = d.timeMs;
    let u = users.get(userKey);
    if (u === undefined) {
      u = { user: d.user, uploaded: 0, downloaded: 0, seedTime: 0, leechTime: 0, firstMs: d.timeMs, lastMs: d.timeMs };
      users.set(userKey, u);
    }
    u.uploaded += d.deltaUp;
    u.downloaded += d.deltaDown;
    u.seedTime += d.seedTime;
    u.leechTime += d.leechTime;
    if (d.timeMs < u.firstMs) u.firstMs = d.timeMs;
    if (d.timeMs > u.lastMs) u.lastMs = d.timeMs;
  }
  return { torrents: [...torrents.values()], users: [...users.values()], applied, through };
}
