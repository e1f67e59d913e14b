/**
 * Ocelot's announce rules (OPSnet/Ocelot worker.cpp; ../shared/sites B.2), as the first pre-hook
 * of `site: gazelle`. Synchronous: every rule is a lookup in GazelleState, no query per announce.
 *
 *   missing passkey                      UNAUTHORIZED            no passkey in the URL (UDP without BEP 41 URL data)
 *   Passkey not found                    UNAUTHORIZED            not a user of the site (Enabled = '1')
 *   Unregistered torrent[: <reason>]     TORRENT_NOT_REGISTERED  info_hash not on the site; with Gazelle's reason if it was deleted lately
 *   Your client is not on the whitelist  CLIENT_NOT_ALLOWED      peer_id matches no xbt_client_whitelist prefix (an empty list allows all)
 *   Access denied, leeching forbidden    LEECHING_FORBIDDEN      can_leech = 0 and left > 0 (a `stopped` still passes, so its bytes count)
 *
 * Credit (B.2): a neutral torrent counts nothing (both multipliers 0); a free torrent, or a
 * token the user holds on it, does not count the download (download multiplier 0).
 *
 * It sets ctx.siteUserId / ctx.siteTorrentId / ctx.userId and the multipliers for the privtrak
 * hook, records the client's User-Agent (UDP: its name from the peer_id) for the writer's
 * xbt_files_users.useragent, and applies the announce interval the site set (update_announce_interval,
 * update_announce_jitter): Ocelot answers `interval` = interval + a random 0…jitter, and
 * `min interval` = interval.
 */
import type { AnnounceRequest, AnnounceResponse } from '../../bittorrent/types.js';
import { ClientError } from '../../bittorrent/errors.js';
import { identifyClient } from '../../bittorrent/client-id.js';
import type { Hook } from '../../middleware/hook.js';
import type { RequestContext } from '../../middleware/context.js';
import { refusalCounters, type RefusalCounters } from '../../middleware/refusals.js';
import { UserKeys } from '../../accounting/user-key.js';
import type { PeerExtras } from '../peer-extras.js';
import type { Registry } from 'prom-client';
import type { GazelleState, GazelleUser } from './state.js';
import type { GazelleStats } from './stats.js';
import { deleteReasonText } from './delete-reasons.js';

/** xbt_files_users.useragent is varchar(51). */
export const USERAGENT_MAX = 51;

const REASONS = ['missing', 'unknown', 'torrent', 'client', 'leeching'] as const;

/** What the writer stores as the user agent: the header, or for UDP (no header) the client named from its peer_id. */
export function agentOf(userAgent: string | undefined, peerId: Buffer): string {
  if (userAgent !== undefined && userAgent !== '') return userAgent.slice(0, USERAGENT_MAX);
  const c = identifyClient(peerId);
  if (c === undefined) return '';
  return (c.version === '' ? c.name : `${c.name} ${c.version}`).slice(0, USERAGENT_MAX);
}

export class GazelleRulesHook implements Hook {
  readonly name = 'site_gazelle';
  // Refusals without a variable part are built once: throwing a shared error allocates nothing.
  private readonly missing = new ClientError('UNAUTHORIZED', 'missing passkey');
  private readonly unknown = new ClientError('UNAUTHORIZED', 'Passkey not found');
  private readonly unregistered = new ClientError('TORRENT_NOT_REGISTERED', 'Unregistered torrent');
  private readonly notWhitelisted = new ClientError('CLIENT_NOT_ALLOWED', 'Your client is not on the whitelist');
  private readonly leeching = new ClientError('LEECHING_FORBIDDEN', 'Access denied, leeching forbidden');
  private readonly refused: RefusalCounters<(typeof REASONS)[number]>;
  private readonly keys = new UserKeys();

  constructor(
    private readonly state: GazelleState,
    private readonly stats: GazelleStats,
    private readonly extras: PeerExtras,
    prometheus: Registry,
    private readonly random: () => number = Math.random,
  ) {
    this.refused = refusalCounters(prometheus, this.name, REASONS);
  }

  private approve(ctx: RequestContext): GazelleUser {
    const passkey = ctx.params['passkey'];
    if (passkey === undefined || passkey === '') {
      this.refused.missing.inc();
      this.stats.announceKeyErrors++;
      throw this.missing;
    }
    const user = this.state.user(passkey);
    if (user === undefined) {
      this.refused.unknown.inc();
      this.stats.announceKeyErrors++;
      throw this.unknown;
    }
    ctx.siteUserId = user.id;
    ctx.userId = this.keys.forSiteUser(user.id);
    return user;
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, resp: AnnounceResponse): void {
    const user = this.approve(ctx);
    const torrent = this.state.torrent(req.infoHash);
    if (torrent === undefined) {
      this.refused.torrent.inc();
      this.stats.torrentErrors++;
      const now = Date.now();
      const deleted = this.state.deletedReason(req.infoHash, now);
      const text = deleted === undefined ? '' : deleteReasonText(deleted.reason);
      throw text === '' ? this.unregistered : new ClientError('TORRENT_NOT_REGISTERED', `Unregistered torrent: ${text}`);
    }
    if (!this.state.clientAllowed(req.peer.id)) {
      this.refused.client.inc();
      this.stats.clientErrors++;
      throw this.notWhitelisted;
    }
    if (!user.canLeech && req.left > 0 && req.event !== 'stopped') {
      this.refused.leeching.inc();
      this.stats.clientErrors++;
      throw this.leeching;
    }
    ctx.siteTorrentId = torrent.id;
    if (torrent.free === 2) {
      ctx.uploadMultiplier = 0;
      ctx.downloadMultiplier = 0;
    } else {
      ctx.uploadMultiplier = 1;
      ctx.downloadMultiplier = torrent.free === 1 || this.state.hasToken(user.id, torrent.id) ? 0 : 1;
    }
    this.extras.set(ctx.userId!, req.infoHash, req.peer.id, agentOf(ctx.userAgent, req.peer.id), true, Date.now());
    const interval = this.state.announceIntervalS;
    if (interval !== undefined) {
      resp.interval = interval;
      resp.minInterval = interval;
    }
    const jitter = this.state.announceJitterS;
    if (jitter > 0) resp.interval += Math.floor(this.random() * (jitter + 1));
    this.stats.announcesPassed++;
  }

  handleScrape(ctx: RequestContext): void {
    this.approve(ctx);
    this.stats.scrapesPassed++;
  }
}
