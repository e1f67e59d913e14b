/**
 * UNIT3D's push API (../shared/sites/README.md A.5), served on the announce listener as UNIT3D
 * expects (`config/announce.php` names one host and port):
 *
 *   GET    /announce/health/ping                  → PONG
 *   PUT|DELETE /announce/{key}/torrents           {id, status, info_hash (hex), is_deleted, seeders, leechers, times_completed, download_factor, upload_factor}
 *   GET    /announce/{key}/torrents/{id}          the torrent and its peers
 *   PUT|DELETE /announce/{key}/users              {id, group_id, passkey, new_passkey?, can_download, is_donor, is_lifetime, num_seeding, num_leeching}
 *   GET    /announce/{key}/users/{id}
 *   PUT|DELETE /announce/{key}/groups             {id, slug, download_slots, is_immune, is_freeleech, is_double_upload}
 *   PUT|DELETE /announce/{key}/blacklisted-agents {peer_id_prefix}
 *   PUT|DELETE /announce/{key}/freeleech-tokens   {user_id, torrent_id}
 *   PUT|DELETE /announce/{key}/personal-freeleech {user_id}
 *   PUT|DELETE /announce/{key}/featured-torrents  {torrent_id}
 *   GET    /announce/{key}/stats
 *   POST   /announce/{key}/config/reload          reloads the state from the site's database
 *
 * Every change is made to the state the rules hook reads, so it holds from the next announce.
 * The key is compared in constant time; a wrong one gets 403 and is counted
 * (privtrak_site_api_refused_total), and is never logged. A body that is not JSON or lacks a
 * field gets 400 with the reason; nothing changes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { ControlHandler, ControlReply, ControlRequest } from '../../frontend/control.js';
import type { z } from 'zod';
import type { Unit3dState, Unit3dTorrent, Unit3dUser } from './state.js';
import type { RequestStats } from './request-stats.js';
import * as B from './push-bodies.js';

export interface PushApiDeps {
  readonly state: Unit3dState;
  readonly stats: RequestStats;
  readonly prometheus: Registry;
  readonly logger: Logger;
  /** Reloads the state from the database (POST /config/reload). */
  readonly reload: () => Promise<void>;
}

const REFUSED_METRIC = 'privtrak_site_api_refused_total';

const text = (status: number, body: string): ControlReply => ({ status, contentType: 'text/plain; charset=utf-8', body });
const json = (value: unknown): ControlReply => ({ status: 200, contentType: 'application/json', body: JSON.stringify(value) });
const OK = text(200, 'OK');
const NOT_FOUND = text(404, 'not found');

type Route = (req: ControlRequest, arg: string | undefined) => ControlReply | Promise<ControlReply>;

export class Unit3dPushApi implements ControlHandler {
  private readonly keyDigest: Buffer;
  private readonly refused: { inc(): void };
  private readonly routes: Record<string, Partial<Record<string, Route>>>;

  constructor(apiKey: string, private readonly deps: PushApiDeps) {
    this.keyDigest = digest(apiKey);
    const counter = (deps.prometheus.getSingleMetric(REFUSED_METRIC) as Counter<'site'> | undefined)
      ?? new Counter({ name: REFUSED_METRIC, help: 'Calls to the site\'s control API refused for a wrong key.', labelNames: ['site'], registers: [deps.prometheus] });
    this.refused = counter.labels('unit3d');
    this.routes = {
      torrents: { PUT: (r) => this.putTorrent(r), DELETE: (r) => this.deleteTorrent(r), GET: (_r, id) => this.getTorrent(id) },
      users: { PUT: (r) => this.putUser(r), DELETE: (r) => this.deleteUser(r), GET: (_r, id) => this.getUser(id) },
      groups: { PUT: (r) => this.putGroup(r), DELETE: (r) => this.deleteGroup(r) },
      'blacklisted-agents': {
        PUT: (r) => this.with(B.blacklistedAgent, r, (b) => this.deps.state.addBlacklistedPrefix(Buffer.from(b.peer_id_prefix, 'latin1'))),
        DELETE: (r) => this.with(B.blacklistedAgent, r, (b) => { this.deps.state.deleteBlacklistedPrefix(Buffer.from(b.peer_id_prefix, 'latin1')); }),
      },
      'freeleech-tokens': {
        PUT: (r) => this.with(B.freeleechToken, r, (b) => this.deps.state.putToken(b.user_id, b.torrent_id)),
        DELETE: (r) => this.with(B.freeleechToken, r, (b) => { this.deps.state.deleteToken(b.user_id, b.torrent_id); }),
      },
      'personal-freeleech': {
        PUT: (r) => this.with(B.personalFreeleech, r, (b) => { this.deps.state.personalFreeleech.add(b.user_id); }),
        DELETE: (r) => this.with(B.personalFreeleech, r, (b) => { this.deps.state.personalFreeleech.delete(b.user_id); }),
      },
      'featured-torrents': {
        PUT: (r) => this.with(B.featuredTorrent, r, (b) => { this.deps.state.featured.add(b.torrent_id); }),
        DELETE: (r) => this.with(B.featuredTorrent, r, (b) => { this.deps.state.featured.delete(b.torrent_id); }),
      },
      stats: { GET: () => json(this.deps.stats.toJSON()) },
      config: { POST: (_r, sub) => (sub === 'reload' ? this.reload() : NOT_FOUND) },
    };
  }

  /** `/announce/health/ping` and anything with at least two segments after `/announce/` (an announce has one). */
  matches(path: string): boolean {
    return path.startsWith('/announce/') && path.indexOf('/', 10) > 10;
  }

  async handle(req: ControlRequest): Promise<ControlReply> {
    const parts = req.path.split('/');
    // ['', 'announce', key, resource, arg?]
    if (parts.length === 4 && parts[2] === 'health' && parts[3] === 'ping') return req.method === 'GET' ? text(200, 'PONG') : text(405, 'method not allowed');
    if (!this.keyMatches(parts[2] ?? '')) {
      this.refused.inc();
      return text(403, 'forbidden');
    }
    if (parts.length > 5) return NOT_FOUND;
    const resource = this.routes[parts[3] ?? ''];
    if (resource === undefined) return NOT_FOUND;
    const route = resource[req.method];
    if (route === undefined) return text(405, 'method not allowed');
    const arg = parts[4] === '' ? undefined : parts[4];
    // Only GET /torrents/{id}, GET /users/{id} and POST /config/reload take a path argument.
    const wantsArg = (req.method === 'GET' && (parts[3] === 'torrents' || parts[3] === 'users')) || parts[3] === 'config';
    if (wantsArg !== (arg !== undefined)) return NOT_FOUND;
    return route(req, arg);
  }

  private keyMatches(given: string): boolean {
    let decoded = given;
    try {
      decoded = decodeURIComponent(given);
    } catch {
      // a malformed escape is just a wrong key
    }
    return timingSafeEqual(digest(decoded), this.keyDigest);
  }

  /** Parses the body and applies `fn` to it: 200, or 400 with the reason and nothing changed. */
  private with<S extends z.ZodTypeAny>(schema: S, req: ControlRequest, fn: (body: z.output<S>) => void): ControlReply {
    const parsed = B.parseBody(schema, req.body);
    if (!parsed.ok) return text(400, parsed.error);
    fn(parsed.value);
    return OK;
  }

  private putTorrent(req: ControlRequest): ControlReply {
    return this.with(B.torrentPut, req, (b) => {
      const { state } = this.deps;
      const old = state.torrentsById.get(b.id);
      const t: Unit3dTorrent = {
        id: b.id, infoHash: b.info_hash, status: b.status, isDeleted: b.is_deleted,
        // The live counts follow the peers privtrak sees; a new torrent starts from the site's.
        seeders: old?.seeders ?? Math.max(0, b.seeders), leechers: old?.leechers ?? Math.max(0, b.leechers),
        timesCompleted: old?.timesCompleted ?? Math.max(0, b.times_completed),
        downloadFactor: b.download_factor, uploadFactor: b.upload_factor,
      };
      state.putTorrent(t);
    });
  }

  private deleteTorrent(req: ControlRequest): ControlReply {
    return this.with(B.torrentDelete, req, (b) => { this.deps.state.deleteTorrent(b.id); });
  }

  private getTorrent(arg: string | undefined): ControlReply {
    const id = parseId(arg);
    const t = id === undefined ? undefined : this.deps.state.torrentsById.get(id);
    if (t === undefined) return NOT_FOUND;
    const peers = [];
    for (const { userId, peer } of this.deps.state.peers.peersOfTorrent(t.id)) {
      peers.push({
        user_id: userId, peer_id: peer.peerId.toString('hex'), ip: peer.ip, port: peer.port, agent: peer.agent,
        uploaded: peer.uploaded, downloaded: peer.downloaded, left: peer.left, is_seeder: peer.seeder, is_visible: peer.visible,
        is_active: true, updated_at: new Date(peer.updatedMs).toISOString(),
      });
    }
    return json({
      id: t.id, info_hash: t.infoHash.toString('hex'), status: t.status, is_deleted: t.isDeleted, seeders: t.seeders,
      leechers: t.leechers, times_completed: t.timesCompleted, download_factor: t.downloadFactor, upload_factor: t.uploadFactor, peers,
    });
  }

  private putUser(req: ControlRequest): ControlReply {
    return this.with(B.userPut, req, (b) => {
      const { state } = this.deps;
      const old = state.usersById.get(b.id);
      const u: Unit3dUser = {
        id: b.id, groupId: b.group_id, passkey: b.new_passkey ?? b.passkey, canDownload: b.can_download,
        isDonor: b.is_donor, isLifetime: b.is_lifetime,
        numSeeding: old?.numSeeding ?? Math.max(0, b.num_seeding), numLeeching: old?.numLeeching ?? Math.max(0, b.num_leeching),
      };
      // A reset passkey stops working at once, even if UNIT3D names it and not the user's current one.
      if (b.new_passkey != null && state.usersByPasskey.get(b.passkey)?.id === b.id) state.usersByPasskey.delete(b.passkey);
      state.putUser(u);
    });
  }

  private deleteUser(req: ControlRequest): ControlReply {
    return this.with(B.userDelete, req, (b) => { this.deps.state.deleteUser(b.id); });
  }

  private getUser(arg: string | undefined): ControlReply {
    const id = parseId(arg);
    const u = id === undefined ? undefined : this.deps.state.usersById.get(id);
    if (u === undefined) return NOT_FOUND;
    return json({
      id: u.id, group_id: u.groupId, passkey: u.passkey, can_download: u.canDownload, is_donor: u.isDonor,
      is_lifetime: u.isLifetime, num_seeding: u.numSeeding, num_leeching: u.numLeeching,
    });
  }

  private putGroup(req: ControlRequest): ControlReply {
    return this.with(B.groupPut, req, (b) => {
      this.deps.state.groups.set(b.id, {
        id: b.id, slug: b.slug, downloadSlots: b.download_slots === null ? null : Math.max(0, b.download_slots),
        isImmune: b.is_immune, downloadFactor: b.is_freeleech ? 0 : 100, uploadFactor: b.is_double_upload ? 200 : 100,
      });
    });
  }

  private deleteGroup(req: ControlRequest): ControlReply {
    return this.with(B.groupDelete, req, (b) => { this.deps.state.groups.delete(b.id); });
  }

  private async reload(): Promise<ControlReply> {
    try {
      await this.deps.reload();
      return OK;
    } catch (err) {
      this.deps.logger.error({ err }, 'site unit3d: reload failed; the previous state stays');
      return text(500, (err as Error).message);
    }
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function parseId(arg: string | undefined): number | undefined {
  return arg !== undefined && /^\d{1,10}$/.test(arg) ? Number(arg) : undefined;
}
