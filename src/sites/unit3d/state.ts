/**
 * UNIT3D's state as the announce rules read it (../shared/sites/README.md A.4): users by passkey
 * and by id, torrents by info_hash and by id, groups, blacklisted peer_id prefixes, freeleech
 * tokens, personal freeleech and featured torrents. Loaded whole at start (loader.ts), then
 * changed only by the site's push API (push-api.ts), as UNIT3D-Announce does: nothing is polled.
 *
 * Live counts (users' num_seeding/num_leeching, torrents' seeders/leechers/times_completed) follow
 * the peers privtrak sees (peer-index.ts), so they never drift from the swarm.
 */
import type { Unit3dFacts } from './facts.js';
import { PeerIndex, type LoadedPeer } from './peer-index.js';

export interface Unit3dUser {
  readonly id: number;
  groupId: number;
  passkey: string;
  canDownload: boolean;
  isDonor: boolean;
  isLifetime: boolean;
  /** Active visible seeding / leeching peers (A.4's num_seeding / num_leeching): the download slots count these. */
  numSeeding: number;
  numLeeching: number;
}

/** torrents.status: only approved torrents are announced (A.3). */
export const STATUS_APPROVED = 1;

export interface Unit3dTorrent {
  readonly id: number;
  infoHash: Buffer;
  status: number;
  isDeleted: boolean;
  seeders: number;
  leechers: number;
  timesCompleted: number;
  /** Percent: 100 - LEAST(free, 100). */
  downloadFactor: number;
  /** Percent: doubleup ? 200 : 100. */
  uploadFactor: number;
}

export interface Unit3dGroup {
  readonly id: number;
  slug: string;
  /** At most this many visible leeching peers; null = no limit. */
  downloadSlots: number | null;
  isImmune: boolean;
  /** Percent: is_freeleech ? 0 : 100. */
  downloadFactor: number;
  /** Percent: is_double_upload ? 200 : 100. */
  uploadFactor: number;
}

/** Everything the loader reads, in one value, so a reload swaps it in one step. */
export interface Unit3dSnapshot {
  users: Unit3dUser[];
  torrents: Unit3dTorrent[];
  groups: Unit3dGroup[];
  blacklistedPrefixes: Buffer[];
  freeleechTokens: Array<{ userId: number; torrentId: number }>;
  personalFreeleech: number[];
  featured: number[];
  /** Active rows of the peers table: the swarms the old announce server left, so slots and counts hold across the switch. */
  peers: LoadedPeer[];
}

export interface Unit3dStateOptions {
  readonly donorImmunityOverride: boolean | null;
  readonly lifetimeDonorImmunityOverride: boolean | null;
}

const tokenKey = (userId: number, torrentId: number) => `${userId}:${torrentId}`;

export class Unit3dState implements Unit3dFacts {
  readonly usersById = new Map<number, Unit3dUser>();
  /** passkey → user (the object itself: one lookup per announce). */
  readonly usersByPasskey = new Map<string, Unit3dUser>();
  /** info_hash (latin1 of the 20 bytes) → torrent. */
  readonly torrentsByHash = new Map<string, Unit3dTorrent>();
  readonly torrentsById = new Map<number, Unit3dTorrent>();
  readonly groups = new Map<number, Unit3dGroup>();
  /** peer_id prefixes as bytes (a peer_id is binary; the prefixes are its first bytes). */
  blacklistedPrefixes: Buffer[] = [];
  private readonly tokens = new Set<string>();
  readonly personalFreeleech = new Set<number>();
  readonly featured = new Set<number>();
  readonly peers: PeerIndex;

  constructor(private readonly opts: Unit3dStateOptions, peerLifetimeMs: number) {
    this.peers = new PeerIndex(this, peerLifetimeMs);
  }

  /**
   * Swaps in a loaded snapshot. At start-up the peers come from the snapshot; on a reload
   * (`keepPeers`) the live index stays, fresher than the table, and the counts are recomputed.
   */
  replace(s: Unit3dSnapshot, keepPeers: boolean, nowMs: number): void {
    this.usersById.clear();
    this.usersByPasskey.clear();
    for (const u of s.users) this.putUser(u);
    this.torrentsByHash.clear();
    this.torrentsById.clear();
    for (const t of s.torrents) this.putTorrent(t);
    this.groups.clear();
    for (const g of s.groups) this.groups.set(g.id, g);
    this.blacklistedPrefixes = [...s.blacklistedPrefixes];
    this.tokens.clear();
    for (const t of s.freeleechTokens) this.tokens.add(tokenKey(t.userId, t.torrentId));
    this.personalFreeleech.clear();
    for (const u of s.personalFreeleech) this.personalFreeleech.add(u);
    this.featured.clear();
    for (const t of s.featured) this.featured.add(t);
    if (!keepPeers) this.peers.load(s.peers, nowMs);
    this.peers.recount();
  }

  userByPasskey(passkey: string): Unit3dUser | undefined {
    return this.usersByPasskey.get(passkey);
  }

  torrentByHash(infoHash: Buffer): Unit3dTorrent | undefined {
    return this.torrentsByHash.get(infoHash.toString('latin1'));
  }

  /** `history.immune` (A.2): the group's is_immune, unless a donor override applies. */
  immune(userId: number): boolean {
    const u = this.usersById.get(userId);
    if (u === undefined) return false;
    if (u.isLifetime && this.opts.lifetimeDonorImmunityOverride !== null) return this.opts.lifetimeDonorImmunityOverride;
    if (u.isDonor && this.opts.donorImmunityOverride !== null) return this.opts.donorImmunityOverride;
    return this.groups.get(u.groupId)?.isImmune ?? false;
  }

  hasToken(userId: number, torrentId: number): boolean {
    return this.tokens.has(tokenKey(userId, torrentId));
  }

  // --- changes (loader, push API) ---

  /** Adds or replaces a user; an old passkey of the same user stops working. */
  putUser(u: Unit3dUser): void {
    const old = this.usersById.get(u.id);
    if (old !== undefined && this.usersByPasskey.get(old.passkey)?.id === u.id) this.usersByPasskey.delete(old.passkey);
    this.usersById.set(u.id, u);
    this.usersByPasskey.set(u.passkey, u);
  }

  deleteUser(id: number): boolean {
    const old = this.usersById.get(id);
    if (old === undefined) return false;
    if (this.usersByPasskey.get(old.passkey)?.id === id) this.usersByPasskey.delete(old.passkey);
    this.usersById.delete(id);
    return true;
  }

  /** Adds or replaces a torrent; its info_hash now names it (an older torrent with that hash loses it). */
  putTorrent(t: Unit3dTorrent): void {
    const old = this.torrentsById.get(t.id);
    if (old !== undefined) this.unmapHash(old);
    this.torrentsById.set(t.id, t);
    this.torrentsByHash.set(t.infoHash.toString('latin1'), t);
  }

  deleteTorrent(id: number): boolean {
    const old = this.torrentsById.get(id);
    if (old === undefined) return false;
    this.unmapHash(old);
    this.torrentsById.delete(id);
    return true;
  }

  private unmapHash(t: Unit3dTorrent): void {
    const key = t.infoHash.toString('latin1');
    if (this.torrentsByHash.get(key) === t) this.torrentsByHash.delete(key);
  }

  putToken(userId: number, torrentId: number): void {
    this.tokens.add(tokenKey(userId, torrentId));
  }

  deleteToken(userId: number, torrentId: number): boolean {
    return this.tokens.delete(tokenKey(userId, torrentId));
  }

  addBlacklistedPrefix(prefix: Buffer): void {
    if (!this.blacklistedPrefixes.some((p) => p.equals(prefix))) this.blacklistedPrefixes.push(prefix);
  }

  deleteBlacklistedPrefix(prefix: Buffer): boolean {
    const before = this.blacklistedPrefixes.length;
    this.blacklistedPrefixes = this.blacklistedPrefixes.filter((p) => !p.equals(prefix));
    return this.blacklistedPrefixes.length !== before;
  }

  isBlacklisted(peerId: Buffer): boolean {
    for (const p of this.blacklistedPrefixes) {
      if (p.length > 0 && p.length <= peerId.length && peerId.compare(p, 0, p.length, 0, p.length) === 0) return true;
    }
    return false;
  }

  counts(): { users: number; torrents: number; groups: number; peers: number } {
    return { users: this.usersById.size, torrents: this.torrentsById.size, groups: this.groups.size, peers: this.peers.size };
  }
}
