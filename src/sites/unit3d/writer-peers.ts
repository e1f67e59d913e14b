/**
 * torrents.seeders/leechers and history.active from the peers table itself.
 *
 * UNIT3D-Announce adjusts the counters from its in-memory swarm; privtrak's writer derives them
 * from each peers row's transition instead: the row's state before the batch (read FOR UPDATE in
 * the same transaction) against its state after. A row counts as a seeder while active with
 * left = 0 and as a leecher while active with left > 0, so every change of a row moves the
 * counters by exactly what it changes in the table, and the counters keep agreeing with
 * `SELECT SUM(active AND seeder) FROM peers` — whoever else wrote the rows before (a restart,
 * the reaper, UNIT3D-Announce before the switch).
 *
 * history.active is whether any of the user's peers on the torrent is active after the batch:
 * stopping one of two seeds keeps the row active (Roardom/UNIT3D-Announce#17).
 */
import type { HistoryRow, PeerRow, TorrentRow } from './writer-fold.js';
import { pairKey, peerKey, type PairKey } from './writer-fold.js';

/** A peers row as it was before the batch. */
export interface PriorPeer {
  readonly userId: number;
  readonly torrentId: number;
  /** The row's peer_id bytes as latin1 (peerKey's form). */
  readonly peerIdLatin1: string;
  readonly active: boolean;
  readonly seeder: boolean;
}

/** What a row adds to its torrent's seeders, and to its leechers (two functions, not a pair: no array per row). */
const seeds = (active: boolean, seeder: boolean): number => (active && seeder ? 1 : 0);
const leeches = (active: boolean, seeder: boolean): number => (active && !seeder ? 1 : 0);

/**
 * Adds each batch peer's transition to its torrent's seeders/leechers deltas, and sets
 * history.active for each batch (user, torrent) from all of the pair's peers after the batch.
 */
export function applyTransitions(
  prior: readonly PriorPeer[], peers: ReadonlyMap<string, PeerRow>, torrents: Map<number, TorrentRow>, history: Map<PairKey, HistoryRow>,
): void {
  const before = new Map<string, PriorPeer>();
  // Pairs with an active peer the batch does not touch.
  const activeUntouched = new Set<PairKey>();
  for (const p of prior) {
    const k = peerKey(p.userId, p.torrentId, p.peerIdLatin1);
    if (peers.has(k)) before.set(k, p);
    else if (p.active) activeUntouched.add(pairKey(p.userId, p.torrentId));
  }
  for (const [k, p] of peers) {
    const old = before.get(k);
    const t = torrents.get(p.torrentId);
    if (t === undefined) continue;
    const seeder = p.left === 0;
    t.seeders += seeds(p.active, seeder) - (old === undefined ? 0 : seeds(old.active, old.seeder));
    t.leechers += leeches(p.active, seeder) - (old === undefined ? 0 : leeches(old.active, old.seeder));
  }
  for (const h of history.values()) h.active = activeUntouched.has(pairKey(h.userId, h.torrentId));
  for (const p of peers.values()) {
    if (!p.active) continue;
    const h = history.get(pairKey(p.userId, p.torrentId));
    if (h !== undefined) h.active = true;
  }
}
