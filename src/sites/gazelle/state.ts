/**
 * What privtrak knows of a Gazelle site, in memory, as Ocelot keeps it: users by passkey
 * (torrent_pass), torrents by info_hash, active freeleech tokens, the client whitelist, the
 * reasons deleted torrents were deleted, and the announce interval the site set. Loaded at start
 * (loader.ts), changed by the site's `/update` calls (control.ts), read by the rules hook on
 * every announce (rules-hook.ts) and by the writer when it writes a batch (facts.ts).
 *
 * Everything here is a Map lookup: the announce path makes no query. Byte strings (info_hash,
 * peer_id prefixes) are kept as latin1 strings, one character per byte, so they key Maps exactly.
 */
import type { GazelleFacts } from './facts.js';

/** torrents.FreeTorrent: '0' normal, '1' free (download not counted), '2' neutral (nothing counted). */
export type FreeType = 0 | 1 | 2;

export interface GazelleUser {
  readonly id: number;
  canLeech: boolean;
  /** Ocelot's "protected": Visible = '0' or IP = '127.0.0.1'. The peer's IP is not written to the site. */
  protected: boolean;
}

export interface GazelleTorrent {
  readonly id: number;
  free: FreeType;
  /** torrents(_leech_stats).Snatched as loaded: Ocelot's scrape `downloaded` base. */
  snatched: number;
}

export interface DeletedTorrent {
  /** Gazelle's reason code (delete-reasons.ts), -1 when none was given. */
  readonly reason: number;
  readonly atMs: number;
}

/** What a start-up load yields (loader.ts). */
export interface GazelleSnapshot {
  readonly users: ReadonlyArray<{ passkey: string; user: GazelleUser }>;
  readonly torrents: ReadonlyArray<{ infoHash: Buffer; torrent: GazelleTorrent }>;
  readonly tokens: ReadonlyArray<{ userId: number; torrentId: number }>;
  readonly whitelist: readonly string[];
}

/** How long a deleted torrent's reason is told to clients still announcing it (Ocelot's del_reason_lifetime default). */
export const DELETE_REASON_LIFETIME_MS = 86_400_000;
/** Reasons kept at most: a mass deletion must not grow memory without bound. */
const MAX_DELETE_REASONS = 100_000;

const key = (b: Buffer): string => b.toString('latin1');

export class GazelleState implements GazelleFacts {
  private readonly users = new Map<string, GazelleUser>();
  /**
   * Users by ID, for the writer's facts. Kept after remove_user: batches of the removed user's
   * last announces are still written after the site removed it, and should still hide its IP.
   */
  private readonly usersById = new Map<number, GazelleUser>();
  private readonly torrents = new Map<string, GazelleTorrent>();
  /** Tokens by torrent ID: Ocelot keeps them on the torrent, so deleting the torrent drops them. */
  private readonly tokens = new Map<number, Set<number>>();
  /** peer_id prefixes as latin1 strings; empty = every client is allowed (Ocelot). */
  private whitelist: string[] = [];
  private readonly deleted = new Map<string, DeletedTorrent>();
  /** Set by update_announce_interval: then `interval` and `min interval`; undefined = the tracker's config. */
  announceIntervalS: number | undefined = undefined;
  /** Set by update_announce_jitter: a random 0…jitter seconds added to each `interval` (Ocelot's announce_jitter). */
  announceJitterS = 0;

  /** Replaces everything the site's tables hold (a start-up load); the interval settings stay. */
  replace(s: GazelleSnapshot): void {
    this.users.clear();
    this.usersById.clear();
    this.torrents.clear();
    this.tokens.clear();
    this.deleted.clear();
    for (const { passkey, user } of s.users) this.addUser(passkey, user);
    for (const { infoHash, torrent } of s.torrents) this.torrents.set(key(infoHash), torrent);
    for (const t of s.tokens) this.addToken(t.userId, t.torrentId);
    this.whitelist = [...s.whitelist];
  }

  // --- users -------------------------------------------------------------------------------

  user(passkey: string): GazelleUser | undefined {
    return this.users.get(passkey);
  }

  /** Adds a user under a passkey unless the passkey is known (Ocelot's add_user); returns whether it was added. */
  addUser(passkey: string, user: GazelleUser): boolean {
    if (this.users.has(passkey)) return false;
    this.users.set(passkey, user);
    this.usersById.set(user.id, user);
    return true;
  }

  removeUser(passkey: string): GazelleUser | undefined {
    const u = this.users.get(passkey);
    if (u !== undefined) this.users.delete(passkey);
    return u;
  }

  /** Moves a user to a new passkey (a user already there is replaced, as by Ocelot); undefined if the old one is unknown. */
  changePasskey(oldPasskey: string, newPasskey: string): GazelleUser | undefined {
    const u = this.users.get(oldPasskey);
    if (u === undefined) return undefined;
    this.users.delete(oldPasskey);
    this.users.set(newPasskey, u);
    return u;
  }

  get userCount(): number {
    return this.users.size;
  }

  // --- torrents ----------------------------------------------------------------------------

  torrent(infoHash: Buffer): GazelleTorrent | undefined {
    return this.torrents.get(key(infoHash));
  }

  /** Adds a torrent, or only sets its free type if the info_hash is known (Ocelot's add_torrent keeps the ID). */
  addTorrent(infoHash: Buffer, id: number, free: FreeType): GazelleTorrent {
    const k = key(infoHash);
    let t = this.torrents.get(k);
    if (t === undefined) {
      t = { id, free, snatched: 0 };
      this.torrents.set(k, t);
      this.deleted.delete(k);
    } else {
      t.free = free;
    }
    return t;
  }

  /** Removes a torrent and its tokens, remembering why for the clients still announcing it. */
  deleteTorrent(infoHash: Buffer, reason: number, nowMs: number): GazelleTorrent | undefined {
    const k = key(infoHash);
    const t = this.torrents.get(k);
    if (t === undefined) return undefined;
    this.torrents.delete(k);
    this.tokens.delete(t.id);
    if (this.deleted.size >= MAX_DELETE_REASONS) this.sweepDeleted(nowMs);
    if (this.deleted.size >= MAX_DELETE_REASONS) {
      // Still full of fresh reasons: drop the oldest (Map order is insertion order).
      const oldest = this.deleted.keys().next();
      if (oldest.done !== true) this.deleted.delete(oldest.value);
    }
    this.deleted.set(k, { reason, atMs: nowMs });
    return t;
  }

  /** Why an unknown info_hash was deleted, if it was within DELETE_REASON_LIFETIME_MS. */
  deletedReason(infoHash: Buffer, nowMs: number): DeletedTorrent | undefined {
    const d = this.deleted.get(key(infoHash));
    if (d === undefined) return undefined;
    if (nowMs - d.atMs > DELETE_REASON_LIFETIME_MS) {
      this.deleted.delete(key(infoHash));
      return undefined;
    }
    return d;
  }

  private sweepDeleted(nowMs: number): void {
    for (const [k, d] of this.deleted) if (nowMs - d.atMs > DELETE_REASON_LIFETIME_MS) this.deleted.delete(k);
  }

  get torrentCount(): number {
    return this.torrents.size;
  }

  // --- freeleech tokens --------------------------------------------------------------------

  addToken(userId: number, torrentId: number): void {
    let s = this.tokens.get(torrentId);
    if (s === undefined) this.tokens.set(torrentId, (s = new Set()));
    s.add(userId);
  }

  removeToken(userId: number, torrentId: number): void {
    const s = this.tokens.get(torrentId);
    if (s === undefined) return;
    s.delete(userId);
    if (s.size === 0) this.tokens.delete(torrentId);
  }

  hasToken(userId: number, torrentId: number): boolean {
    return this.tokens.get(torrentId)?.has(userId) ?? false;
  }

  isProtected(userId: number): boolean {
    return this.usersById.get(userId)?.protected ?? false;
  }

  // --- client whitelist --------------------------------------------------------------------

  /** Whether a peer_id starts with a whitelisted prefix; true when the list is empty (Ocelot: no check). */
  clientAllowed(peerId: Buffer): boolean {
    if (this.whitelist.length === 0) return true;
    const id = peerId.toString('latin1');
    for (const prefix of this.whitelist) if (id.startsWith(prefix)) return true;
    return false;
  }

  addWhitelist(prefix: string): void {
    this.whitelist.push(prefix);
  }

  /** Removes the first entry equal to `prefix` (Ocelot's remove_whitelist). */
  removeWhitelist(prefix: string): boolean {
    const i = this.whitelist.indexOf(prefix);
    if (i < 0) return false;
    this.whitelist.splice(i, 1);
    return true;
  }

  get whitelistSize(): number {
    return this.whitelist.length;
  }
}
