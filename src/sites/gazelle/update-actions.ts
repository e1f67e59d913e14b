/**
 * The actions of Gazelle's `GET /{secret}/update?action=…` (app/Tracker.php; ../shared/sites B.3),
 * applied to GazelleState as Ocelot applies them (worker.cpp `update`). Each takes effect on the
 * next announce. Parameters are byte strings (query.ts: one character per byte, percent-escapes
 * decoded): info_hash is the raw 20 bytes, and `update_torrents` sends several concatenated.
 *
 * Like Ocelot, an action about an unknown user or torrent changes nothing and still answers
 * `success` (Gazelle would otherwise retry it). A malformed number is refused instead (Ocelot
 * would read it as 0 and, say, add torrent 0): ActionError, answered as a failure.
 * Logs name users and torrents by ID, never by passkey.
 */
import type { Logger } from 'pino';
import type { FreeType, GazelleState } from './state.js';

export class ActionError extends Error {
  readonly code = 'SITE_CONTROL_BAD_PARAM';
}

export type Params = Record<string, string>;

/** A reply other than `success` (info_torrent answers JSON). */
export interface ActionReply {
  readonly contentType: string;
  readonly body: string;
}

function int(p: Params, name: string, min: number, max: number): number {
  const v = p[name];
  if (v === undefined || !/^-?\d{1,15}$/.test(v)) throw new ActionError(`${name}: not an integer`);
  const n = Number(v);
  if (n < min || n > max) throw new ActionError(`${name}: out of range ${min}..${max}`);
  return n;
}

/** Ocelot: '0' normal, '1' free, anything else (Gazelle sends '2') neutral. */
function freeType(p: Params): FreeType {
  const v = p['freetorrent'];
  return v === '0' ? 0 : v === '1' ? 1 : 2;
}

function infoHash(p: Params, name = 'info_hash'): Buffer {
  const v = p[name];
  if (v === undefined || v.length !== 20) throw new ActionError(`${name}: must be 20 bytes`);
  return Buffer.from(v, 'latin1');
}

/** Concatenated fixed-size items (info_hashes: 20 bytes, passkeys: 32 characters); a short tail is ignored, as by Ocelot. */
function chunks(v: string | undefined, size: number): string[] {
  const out: string[] = [];
  if (v === undefined) return out;
  for (let i = 0; i + size <= v.length; i += size) out.push(v.slice(i, i + size));
  return out;
}

const U32 = 0xffff_ffff;
const I32 = 0x7fff_ffff;

export function applyUpdate(state: GazelleState, p: Params, logger: Logger, nowMs: number): ActionReply | undefined {
  const action = p['action'] ?? '';
  switch (action) {
    case 'change_passkey': {
      const u = state.changePasskey(p['oldpasskey'] ?? '', p['newpasskey'] ?? '');
      if (u === undefined) logger.warn({ action }, 'gazelle update: no user with the old passkey');
      else logger.info({ action, user: u.id }, 'gazelle update: passkey changed');
      return undefined;
    }
    case 'add_torrent': {
      const ih = infoHash(p);
      const t = state.addTorrent(ih, int(p, 'id', 0, I32), freeType(p));
      logger.info({ action, torrent: t.id, free: t.free }, 'gazelle update: torrent added');
      return undefined;
    }
    case 'update_torrent': {
      setFree(state, [infoHash(p)], freeType(p), logger, action);
      return undefined;
    }
    case 'update_torrents': {
      setFree(state, chunks(p['info_hashes'], 20).map((s) => Buffer.from(s, 'latin1')), freeType(p), logger, action);
      return undefined;
    }
    case 'delete_torrent': {
      const reason = p['reason'] === undefined ? -1 : int(p, 'reason', -1, I32);
      const t = state.deleteTorrent(infoHash(p), reason, nowMs);
      if (t === undefined) logger.warn({ action }, 'gazelle update: no such torrent');
      else logger.info({ action, torrent: t.id, reason }, 'gazelle update: torrent deleted');
      return undefined;
    }
    case 'info_torrent': {
      const ih = infoHash(p);
      const t = state.torrent(ih);
      // Ocelot answers {"hash":…,"id":…,"free":…} or {"hash":…,"fail":1}; here the hash is hex, so the JSON is valid.
      const hash = ih.toString('hex');
      return {
        contentType: 'application/json',
        body: `${JSON.stringify(t === undefined ? { hash, fail: 1 } : { hash, id: t.id, free: t.free })}\n`,
      };
    }
    case 'add_token':
    case 'remove_token': {
      const ih = infoHash(p);
      const userId = int(p, 'userid', 0, U32);
      const t = state.torrent(ih);
      if (t === undefined) logger.warn({ action, user: userId }, 'gazelle update: no such torrent');
      else if (action === 'add_token') state.addToken(userId, t.id);
      else state.removeToken(userId, t.id);
      return undefined;
    }
    case 'add_user': {
      const id = int(p, 'id', 0, U32);
      const added = state.addUser(p['passkey'] ?? '', { id, canLeech: true, protected: p['visible'] === '0' });
      if (added) logger.info({ action, user: id }, 'gazelle update: user added');
      else logger.warn({ action, user: id }, 'gazelle update: passkey already known');
      return undefined;
    }
    case 'remove_user': {
      const u = state.removeUser(p['passkey'] ?? '');
      if (u !== undefined) logger.info({ action, user: u.id }, 'gazelle update: user removed');
      return undefined;
    }
    case 'remove_users': {
      let n = 0;
      for (const passkey of chunks(p['passkeys'], 32)) if (state.removeUser(passkey) !== undefined) n++;
      logger.info({ action, removed: n }, 'gazelle update: users removed');
      return undefined;
    }
    case 'update_user': {
      const u = state.user(p['passkey'] ?? '');
      if (u === undefined) {
        logger.warn({ action }, 'gazelle update: no user with that passkey');
        return undefined;
      }
      u.canLeech = p['can_leech'] !== '0';
      u.protected = p['visible'] === '0';
      logger.info({ action, user: u.id, canLeech: u.canLeech, protected: u.protected }, 'gazelle update: user updated');
      return undefined;
    }
    case 'add_whitelist':
      state.addWhitelist(p['peer_id'] ?? '');
      logger.info({ action }, 'gazelle update: client whitelisted');
      return undefined;
    case 'remove_whitelist':
      state.removeWhitelist(p['peer_id'] ?? '');
      logger.info({ action }, 'gazelle update: client removed from the whitelist');
      return undefined;
    case 'edit_whitelist':
      state.removeWhitelist(p['old_peer_id'] ?? '');
      state.addWhitelist(p['new_peer_id'] ?? '');
      logger.info({ action }, 'gazelle update: whitelist entry edited');
      return undefined;
    case 'update_announce_interval': {
      state.announceIntervalS = int(p, 'new_announce_interval', 1, 86_400 * 7);
      logger.info({ action, seconds: state.announceIntervalS }, 'gazelle update: announce interval changed');
      return undefined;
    }
    case 'update_announce_jitter': {
      state.announceJitterS = int(p, 'new_announce_jitter', 0, 86_400);
      logger.info({ action, seconds: state.announceJitterS }, 'gazelle update: announce jitter changed');
      return undefined;
    }
    default:
      // Ocelot answers `success` to an action it does not know; so does privtrak, and says so in the log.
      logger.warn({ action: action.slice(0, 40) }, 'gazelle update: unknown action ignored');
      return undefined;
  }
}

function setFree(state: GazelleState, hashes: Buffer[], free: FreeType, logger: Logger, action: string): void {
  let found = 0;
  for (const ih of hashes) {
    const t = state.torrent(ih);
    if (t === undefined) continue;
    t.free = free;
    found++;
  }
  if (found < hashes.length) logger.warn({ action, missing: hashes.length - found }, 'gazelle update: torrents not found');
  if (found > 0) logger.info({ action, torrents: found, free }, 'gazelle update: freeleech changed');
}
