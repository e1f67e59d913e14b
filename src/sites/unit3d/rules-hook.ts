/**
 * UNIT3D-Announce's announce rules (../shared/sites/README.md A.3) as privtrak's first pre-hook.
 * Synchronous: everything it reads is in memory (state.ts), changed only by the push API.
 *
 * Refusals (docs/errors.md), checked in this order:
 *   missing / unknown passkey                          UNAUTHORIZED
 *   the user's group is unknown                        FORBIDDEN
 *   group slug banned, validating or disabled          USER_DISABLED
 *   blocked port                                       PORT_BLOCKED
 *   user agent too long or a browser's (HTTP only)     CLIENT_NOT_ALLOWED
 *   peer_id with a blacklisted prefix                  CLIENT_BANNED
 *   unknown or deleted info_hash                       TORRENT_NOT_REGISTERED (and unregistered_info_hashes)
 *   torrent not approved                               TORRENT_NOT_APPROVED
 *   can_download = 0 and left > 0                      LEECHING_FORBIDDEN
 *   a new peer beyond max_peers_per_torrent_per_user   TOO_MANY_PEERS
 * A `stopped` still passes the last two, so its final bytes are counted and its slot freed.
 *
 * Then it sets what the privtrak hook and the writer read: ctx.siteUserId, ctx.siteTorrentId,
 * the credit multipliers (factors.ts), and the peer's agent and visibility (PeerExtras). A new
 * leech peer beyond the group's download slots is accepted but recorded `visible = false`, as
 * UNIT3D-Announce does; it becomes visible on a later announce once a slot is free.
 */
import type { Registry } from 'prom-client';
import { ClientError } from '../../bittorrent/errors.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse } from '../../bittorrent/types.js';
import { roleAfter } from '../../bittorrent/types.js';
import { UserKeys } from '../../accounting/user-key.js';
import type { Hook } from '../../middleware/hook.js';
import type { RequestContext } from '../../middleware/context.js';
import { refusalCounters, type RefusalCounters } from '../../middleware/refusals.js';
import type { Unit3dSiteConfig } from '../config.js';
import type { PeerExtras } from '../peer-extras.js';
import { agentProblem, clientAgent, isBlockedPort, MAX_AGENT_LENGTH, printablePrefix } from './client-rules.js';
import { downloadFactor, uploadFactor, type FactorInputs } from './factors.js';
import { STATUS_APPROVED, type Unit3dGroup, type Unit3dState, type Unit3dUser } from './state.js';
import type { RequestStats } from './request-stats.js';

/** Group slugs whose members may not announce (UNIT3D's own groups for banned, unconfirmed and disabled accounts). */
const REFUSED_SLUGS = new Set(['banned', 'validating', 'disabled']);

const STATUS_NAMES: Record<number, string> = { 0: 'pending moderation', 2: 'rejected', 3: 'postponed' };

const REASONS = ['passkey', 'group', 'port', 'agent', 'client', 'torrent', 'not_approved', 'leeching', 'too_many_peers'] as const;

/** What the rules hook tells the writer: announces for info_hashes the site does not have. */
export interface UnregisteredNotes {
  noteUnregistered(userId: number, infoHash: Buffer, nowMs: number): void;
}

export interface RulesHookDeps {
  readonly state: Unit3dState;
  readonly extras: PeerExtras;
  readonly stats: RequestStats;
  readonly prometheus: Registry;
  /** The writer; undefined in a read-only dry run. */
  readonly unregistered: UnregisteredNotes | undefined;
  readonly now?: () => number;
}

export class Unit3dRulesHook implements Hook {
  readonly name = 'site_unit3d';
  private readonly refused: RefusalCounters<(typeof REASONS)[number]>;
  private readonly keys = new UserKeys();
  private readonly now: () => number;
  private readonly tooManyPeers: ClientError;
  private readonly missingPasskey = new ClientError('UNAUTHORIZED', 'missing passkey');
  private readonly unknownPasskey = new ClientError('UNAUTHORIZED', 'unknown passkey: download the .torrent file again');

  constructor(private readonly config: Unit3dSiteConfig, private readonly deps: RulesHookDeps) {
    this.refused = refusalCounters(deps.prometheus, this.name, REASONS);
    this.now = deps.now ?? Date.now;
    this.tooManyPeers = new ClientError('TOO_MANY_PEERS',
      `too many peers on this torrent (at most ${config.max_peers_per_torrent_per_user} per user)`);
  }

  handleAnnounce(ctx: RequestContext, req: AnnounceRequest, _resp: AnnounceResponse): void {
    const now = this.now();
    const { state, stats } = this.deps;
    stats.request(now);
    const user = this.user(ctx);
    const group = this.group(user);
    this.client(ctx, req);

    const torrent = state.torrentByHash(req.infoHash);
    if (torrent === undefined || torrent.isDeleted) {
      this.deps.unregistered?.noteUnregistered(user.id, req.infoHash, now);
      this.refused.torrent.inc();
      throw new ClientError('TORRENT_NOT_REGISTERED', torrent === undefined ? 'torrent not registered with this tracker' : 'torrent has been deleted');
    }
    if (torrent.status !== STATUS_APPROVED) {
      this.refused.not_approved.inc();
      throw new ClientError('TORRENT_NOT_APPROVED', `torrent not approved (${STATUS_NAMES[torrent.status] ?? `status ${torrent.status}`})`);
    }
    const stopped = req.event === 'stopped';
    if (!user.canDownload && req.left > 0 && !stopped) {
      this.refused.leeching.inc();
      throw new ClientError('LEECHING_FORBIDDEN', 'download privileges revoked: seeding only');
    }
    const peerKey = req.peer.id.toString('latin1');
    const old = state.peers.peersOf(torrent.id, user.id)?.get(peerKey);
    if (!stopped && old === undefined && state.peers.freshCount(torrent.id, user.id, now) >= this.config.max_peers_per_torrent_per_user) {
      this.refused.too_many_peers.inc();
      throw this.tooManyPeers;
    }

    const seeder = roleAfter(req) === 'seeder';
    let visible = true;
    if (!seeder && group.downloadSlots !== null) {
      // A leecher that holds a slot keeps it (numLeeching counts it, so weighing it again would
      // evict it); any other leecher, new or waiting, is visible when a slot is free.
      visible = (old !== undefined && !old.seeder && old.visible) || user.numLeeching < group.downloadSlots;
    }

    const f: FactorInputs = {
      siteUpload: this.config.upload_factor, siteDownload: this.config.download_factor,
      groupUpload: group.uploadFactor, groupDownload: group.downloadFactor,
      torrentUpload: torrent.uploadFactor, torrentDownload: torrent.downloadFactor,
      featured: state.featured.has(torrent.id), personalFreeleech: state.personalFreeleech.has(user.id),
      token: state.hasToken(user.id, torrent.id),
    };
    ctx.siteUserId = user.id;
    ctx.siteTorrentId = torrent.id;
    // Beyond its download slots a leecher is served and counted but not handed to others (UNIT3D-Announce's visible = false).
    ctx.hidden = !visible;
    ctx.uploadMultiplier = uploadFactor(f) / 100;
    ctx.downloadMultiplier = downloadFactor(f) / 100;
    const userKey = this.keys.forSiteUser(user.id);
    ctx.userId = userKey;

    const agent = agentOf(ctx, req);
    this.deps.extras.set(userKey, req.infoHash, req.peer.id, agent, visible, now);
    if (stopped) state.peers.remove(torrent.id, user.id, peerKey);
    else {
      state.peers.upsert(torrent.id, user.id, {
        peerId: req.peer.id, ip: req.peer.ip, port: req.peer.port, seeder, visible, uploaded: req.uploaded,
        downloaded: req.downloaded, left: req.left, agent, updatedMs: now,
      });
    }
    stats.response(now);
  }

  /** UNIT3D-Announce serves no scrape; with a scrape route configured, only known passkeys may use it. */
  handleScrape(ctx: RequestContext, _req: ScrapeRequest, _resp: ScrapeResponse): void {
    ctx.siteUserId = this.user(ctx).id;
  }

  private user(ctx: RequestContext): Unit3dUser {
    const passkey = ctx.params['passkey'];
    if (passkey === undefined || passkey === '') {
      this.refused.passkey.inc();
      throw this.missingPasskey;
    }
    const user = this.deps.state.userByPasskey(passkey);
    if (user === undefined) {
      this.refused.passkey.inc();
      throw this.unknownPasskey;
    }
    return user;
  }

  private group(user: Unit3dUser): Unit3dGroup {
    const group = this.deps.state.groups.get(user.groupId);
    if (group === undefined) {
      this.refused.group.inc();
      throw new ClientError('FORBIDDEN', 'your user group is unknown to the tracker');
    }
    if (REFUSED_SLUGS.has(group.slug)) {
      this.refused.group.inc();
      throw new ClientError('USER_DISABLED', `account ${group.slug}`);
    }
    return group;
  }

  private client(ctx: RequestContext, req: AnnounceRequest): void {
    if (isBlockedPort(req.peer.port)) {
      this.refused.port.inc();
      throw new ClientError('PORT_BLOCKED', `port ${req.peer.port} is blocked: choose another listening port in your client`);
    }
    // UDP carries no User-Agent: there is nothing to judge, and its absence is no reason to refuse.
    if (ctx.userAgent !== undefined) {
      const problem = agentProblem(ctx.userAgent);
      if (problem !== undefined) {
        this.refused.agent.inc();
        throw new ClientError('CLIENT_NOT_ALLOWED', problem);
      }
    }
    if (this.deps.state.isBlacklisted(req.peer.id)) {
      this.refused.client.inc();
      throw new ClientError('CLIENT_BANNED', `client banned (${printablePrefix(req.peer.id)})`);
    }
  }
}

/** The agent written to peers.agent / history.agent: the User-Agent, or over UDP the client named by its peer_id. */
export function agentOf(ctx: RequestContext, req: AnnounceRequest): string {
  if (ctx.userAgent !== undefined && ctx.userAgent !== '') return ctx.userAgent.slice(0, MAX_AGENT_LENGTH);
  return clientAgent(req.peer.id);
}
