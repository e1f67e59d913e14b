/**
 * The peers UNIT3D's rules need to see, per torrent and per user: how many peers a user has on
 * a torrent (max_peers_per_torrent_per_user), how many visible leeching peers a user has (the
 * group's download slots), a peer's previous role (times_completed counts leecher → seeder, A.2),
 * and the peer list of `GET /torrents/{id}`. The swarm store cannot answer these (it keys peers by
 * info_hash and peer_id only, without the user), so the rules hook keeps this index beside it.
 *
 * Counts kept on the state's objects, always equal to what this index holds:
 *   user.numSeeding / numLeeching   active *visible* peers (as UNIT3D-Announce loads them, A.4)
 *   torrent.seeders / leechers      active peers
 * A peer silent for longer than the swarm's peer lifetime is dropped by sweep(), as the swarm
 * store drops it. Memory: one small object per live peer.
 */
import type { Unit3dTorrent, Unit3dUser } from './state.js';

export interface TrackedPeer {
  readonly peerId: Buffer;
  ip: string;
  port: number;
  seeder: boolean;
  visible: boolean;
  uploaded: number;
  downloaded: number;
  left: number;
  agent: string;
  updatedMs: number;
}

/** A row of the site's peers table, as the loader reads it. */
export interface LoadedPeer extends TrackedPeer {
  readonly userId: number;
  readonly torrentId: number;
}

/** What the index needs of the state: the objects that carry the counts. */
interface Counted {
  readonly usersById: ReadonlyMap<number, Unit3dUser>;
  readonly torrentsById: ReadonlyMap<number, Unit3dTorrent>;
}

type UserPeers = Map<string, TrackedPeer>;

export class PeerIndex {
  /** torrent id → user id → peer_id (latin1) → peer. */
  private readonly torrents = new Map<number, Map<number, UserPeers>>();
  private count = 0;

  constructor(private readonly state: Counted, private readonly lifetimeMs: number) {}

  get size(): number {
    return this.count;
  }

  /** Replaces the index with the loaded rows still within the peer lifetime (without counting: recount() follows). */
  load(rows: readonly LoadedPeer[], nowMs: number): void {
    this.torrents.clear();
    this.count = 0;
    const cutoff = nowMs - this.lifetimeMs;
    for (const r of rows) {
      if (r.updatedMs < cutoff) continue;
      const { userId, torrentId, ...peer } = r;
      const users = this.users(torrentId);
      let mine = users.get(userId);
      if (mine === undefined) users.set(userId, (mine = new Map()));
      if (!mine.has(peer.peerId.toString('latin1'))) this.count++;
      mine.set(peer.peerId.toString('latin1'), peer);
    }
  }

  /** Sets every count from what the index holds (after a load or reload). */
  recount(): void {
    for (const u of this.state.usersById.values()) u.numSeeding = u.numLeeching = 0;
    for (const t of this.state.torrentsById.values()) t.seeders = t.leechers = 0;
    for (const [torrentId, users] of this.torrents) {
      for (const [userId, peers] of users) for (const p of peers.values()) this.adjust(torrentId, userId, p, 1);
    }
  }

  /** The user's peers on a torrent (undefined: none). */
  peersOf(torrentId: number, userId: number): ReadonlyMap<string, TrackedPeer> | undefined {
    return this.torrents.get(torrentId)?.get(userId);
  }

  /** How many peers the user has on the torrent, after dropping its own stale ones. */
  freshCount(torrentId: number, userId: number, nowMs: number): number {
    const mine = this.torrents.get(torrentId)?.get(userId);
    if (mine === undefined) return 0;
    const cutoff = nowMs - this.lifetimeMs;
    for (const [k, p] of mine) if (p.updatedMs < cutoff) this.remove(torrentId, userId, k);
    return this.torrents.get(torrentId)?.get(userId)?.size ?? 0;
  }

  /**
   * Records an announce that keeps the peer (not `stopped`): moves the counts from its old role
   * and visibility to the new ones, and counts a completed download when a known leecher becomes
   * a seeder (UNIT3D-Announce's times_completed rule, A.2).
   */
  upsert(torrentId: number, userId: number, peer: TrackedPeer): void {
    const key = peer.peerId.toString('latin1');
    const users = this.users(torrentId);
    let mine = users.get(userId);
    if (mine === undefined) users.set(userId, (mine = new Map()));
    const old = mine.get(key);
    if (old !== undefined) {
      this.adjust(torrentId, userId, old, -1);
      if (!old.seeder && peer.seeder) {
        const t = this.state.torrentsById.get(torrentId);
        if (t !== undefined) t.timesCompleted++;
      }
    } else {
      this.count++;
    }
    mine.set(key, peer);
    this.adjust(torrentId, userId, peer, 1);
  }

  /** Removes a peer (a `stopped`, or expiry); returns whether it was there. */
  remove(torrentId: number, userId: number, peerKey: string): boolean {
    const users = this.torrents.get(torrentId);
    const mine = users?.get(userId);
    const old = mine?.get(peerKey);
    if (old === undefined) return false;
    mine!.delete(peerKey);
    this.count--;
    if (mine!.size === 0) users!.delete(userId);
    if (users!.size === 0) this.torrents.delete(torrentId);
    this.adjust(torrentId, userId, old, -1);
    return true;
  }

  /** Every peer of a torrent, with its user (for `GET /torrents/{id}`). */
  *peersOfTorrent(torrentId: number): Generator<{ userId: number; peer: TrackedPeer }> {
    const users = this.torrents.get(torrentId);
    if (users === undefined) return;
    for (const [userId, peers] of users) for (const peer of peers.values()) yield { userId, peer };
  }

  /** Drops peers silent since before `nowMs - lifetime`; returns how many. */
  sweep(nowMs: number): number {
    const cutoff = nowMs - this.lifetimeMs;
    let n = 0;
    for (const [torrentId, users] of this.torrents) {
      for (const [userId, peers] of users) {
        for (const [k, p] of peers) {
          if (p.updatedMs < cutoff && this.remove(torrentId, userId, k)) n++;
        }
      }
    }
    return n;
  }

  private users(torrentId: number): Map<number, UserPeers> {
    let users = this.torrents.get(torrentId);
    if (users === undefined) this.torrents.set(torrentId, (users = new Map()));
    return users;
  }

  private adjust(torrentId: number, userId: number, p: TrackedPeer, by: 1 | -1): void {
    const t = this.state.torrentsById.get(torrentId);
    if (t !== undefined) {
      if (p.seeder) t.seeders = Math.max(0, t.seeders + by);
      else t.leechers = Math.max(0, t.leechers + by);
    }
    const u = this.state.usersById.get(userId);
    if (u !== undefined && p.visible) {
      if (p.seeder) u.numSeeding = Math.max(0, u.numSeeding + by);
      else u.numLeeching = Math.max(0, u.numLeeching + by);
    }
  }
}
