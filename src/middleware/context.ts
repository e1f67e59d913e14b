/**
 * The per-request context. Frontends fill in what they know about the request (route
 * parameters or BEP 41 URL data, the client's address, the user agent); hooks add what they
 * learn for later hooks and for the privtrak hook's deltas:
 *
 * | field | set by | meaning |
 * |---|---|---|
 * | `userId` | `user_approval` (site users), `privtrak` | the 16-byte user key (accounting/user-key.ts): the site user's, or the hashed passkey |
 * | `siteUserId` | `user_approval` | the site's numeric user ID, when the registry has one |
 * | `siteTorrentId` | `torrent_approval` | the site's numeric torrent ID, when the registry has one |
 * | `torrent` | `torrent_approval` | the registry's record of the info_hash (null: not registered), so `freeleech` need not look it up again |
 * | `downloadMultiplier`, `uploadMultiplier` | `freeleech` | credit `raw × multiplier` bytes (undefined: ×1) |
 * | `hidden` | a site's rules hook (UNIT3D download slots) | the peer is served and counted, but not given to other peers |
 * | `swarmView` | `privtrak` in shared mode (storage: redis) | the reply's peers and counts, read in the same atomic step that counted the announce and updated the swarm: the response hook answers from it, the swarm hook does nothing |
 *
 * Every field exists from creation (as undefined), so all contexts share one object shape.
 */
import type { AnnounceView } from '../storage/peer-store.js';
import type { TorrentRecord } from '../access/records.js';

export interface RequestContext {
  /** Named route parameters (HTTP `/:passkey/announce`) or parsed BEP 41 URL data (UDP): same keys either way. */
  readonly params: Record<string, string>;
  /** Raw query parameters not consumed by the protocol parser (HTTP only; UDP: from BEP 41 query). */
  readonly query: Record<string, string>;
  /** The HTTP User-Agent, when there is one (UDP never has one). */
  readonly userAgent: string | undefined;
  /**
   * The 16-byte user key (accounting/user-key.ts), never the passkey: set by `user_approval` when the
   * registry knows the site user ID, else by `privtrak` (a keyed hash of the passkey).
   */
  userId?: Buffer;
  /** The site's own numeric user ID (e.g. `users.id`), from the registry; set by `user_approval`. */
  siteUserId?: number;
  /** The site's own numeric torrent ID (e.g. `torrents.id`), from the registry; set by `torrent_approval`. */
  siteTorrentId?: number;
  /**
   * The access registry's record of the announce's info_hash, as `torrent_approval` found it: null
   * when it is not registered (blacklist mode lets it pass); undefined when nobody looked it up.
   * Read by `freeleech`, which runs after it on the same request and the same registry copy.
   */
  torrent?: TorrentRecord | null;
  /**
   * Effective multipliers set by `freeleech`: the bytes to credit are `raw × multiplier`
   * (freeleech: download ×0; double upload: upload ×2). Raw bytes stay as reported.
   * Undefined when no freeleech hook ran: credit ×1.
   */
  downloadMultiplier?: number;
  uploadMultiplier?: number;
  /**
   * Set by a site's rules hook for a peer that is served and counted but must not be handed to
   * others (UNIT3D: a leecher beyond its group's download slots is `visible = false`): the swarm
   * hook keeps it out of the swarm (and takes it out if it was there).
   */
  hidden?: boolean;
  /**
   * Set by the privtrak hook in shared mode (storage: {name: redis}): one atomic step in Redis
   * counted the announce, updated the swarm and read what the announce is answered with. The
   * response hook then fills the reply from it instead of reading the store again, and the swarm
   * post-hook does nothing (the swarm already changed).
   */
  swarmView?: AnnounceView;
}

export function createContext(params: Record<string, string>, query: Record<string, string>, userAgent?: string): RequestContext {
  return {
    params, query, userAgent, userId: undefined, siteUserId: undefined, siteTorrentId: undefined, torrent: undefined,
    downloadMultiplier: undefined, uploadMultiplier: undefined, hidden: undefined, swarmView: undefined,
  };
}
