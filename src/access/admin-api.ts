/**
 * The admin API, on the metrics listener, off unless `registry.admin_token` is set. Every
 * request carries `Authorization: Bearer <token>`; changes take effect on the next announce.
 *
 *   GET    /admin/status                      source, counts, age of the copy, overrides held
 *   GET    /admin/users/PASSKEY               the user (404 if unknown)
 *   PUT    /admin/users/PASSKEY               add or replace: {"site_id":1,"enabled":true,"can_leech":true} (all optional)
 *   POST   /admin/users/PASSKEY/disable       disable (every announce refused)
 *   POST   /admin/users/PASSKEY/enable        enable
 *   DELETE /admin/users/PASSKEY               remove (announces get "unknown passkey")
 *   GET    /admin/torrents/INFO_HASH          40 hex characters
 *   PUT    /admin/torrents/INFO_HASH          {"site_id":7,"banned":false,"download_multiplier":0,"upload_multiplier":2}
 *   DELETE /admin/torrents/INFO_HASH
 *
 * File registry: changes are written to the files (they persist). SQL registries: the site's
 * database stays the source of truth; a change holds until the database's row for that user or
 * torrent changes, or the tracker restarts (see registry.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AccessRegistry } from './registry.js';
import { RecordError, normalizeInfoHash, normalizePasskey, torrentFromRow, torrentKey, torrentToJson, userFromRow, userToJson } from './records.js';
import { TORRENT_COLUMNS, USER_COLUMNS } from './file-format.js';
import { fingerprint } from '../accounting/fingerprint.js';
import { bearerMatcher, closeIfUnread, readBodyUpTo } from '../admin-request.js';

/** Handles the request if it is for the admin API; returns false to let the caller answer 404. */
export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const MAX_BODY = 16 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage, allowed: readonly string[]): Promise<Record<string, unknown>> {
  const raw = await readBodyUpTo(req, MAX_BODY);
  if (raw === undefined) throw new HttpError(413, 'body too large');
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object');
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw new HttpError(400, `unknown field "${k}" (known: ${allowed.join(', ')})`);
  return body as Record<string, unknown>;
}

export function createAdminHandler(registry: AccessRegistry, token: string, logger: Logger): AdminHandler {
  const authorized = bearerMatcher(token);

  const route = async (req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> => {
    const method = req.method ?? 'GET';
    const [kind, id, action] = parts;
    if (kind === 'status' && id === undefined && method === 'GET') {
      const s = registry.status();
      return send(res, 200, { ...s, age_seconds: s.lastSuccessMs === 0 ? null : (Date.now() - s.lastSuccessMs) / 1000 });
    }
    if (kind === 'users' && id !== undefined) {
      const passkey = parse(() => normalizePasskey(id));
      if (action === undefined && method === 'GET') {
        const u = registry.user(passkey);
        return u ? send(res, 200, userToJson(u)) : send(res, 404, { error: 'no such user' });
      }
      if (action === undefined && method === 'PUT') {
        const body = await readJson(req, USER_COLUMNS.filter((c) => c !== 'passkey'));
        const user = parse(() => userFromRow({ ...body, passkey }));
        await registry.putUser(user);
        // Logs name a passkey by its fingerprint: logs are kept, and a passkey is a secret.
        logger.info({ admin: 'put_user', user: { ...userToJson(user), passkey: fingerprint(passkey) } }, 'admin change');
        return send(res, 200, userToJson(user));
      }
      if ((action === 'disable' || action === 'enable') && method === 'POST') {
        const u = await registry.setUserEnabled(passkey, action === 'enable');
        if (!u) return send(res, 404, { error: 'no such user' });
        logger.info({ admin: action, passkey: fingerprint(passkey) }, 'admin change');
        return send(res, 200, userToJson(u));
      }
      if (action === undefined && method === 'DELETE') {
        if (!(await registry.removeUser(passkey))) return send(res, 404, { error: 'no such user' });
        logger.info({ admin: 'remove_user', passkey: fingerprint(passkey) }, 'admin change');
        return send(res, 204, undefined);
      }
    }
    if (kind === 'torrents' && id !== undefined && action === undefined) {
      const key = torrentKey(parse(() => normalizeInfoHash(id)));
      if (method === 'GET') {
        const t = registry.torrentByKey(key);
        return t ? send(res, 200, torrentToJson(t)) : send(res, 404, { error: 'no such torrent' });
      }
      if (method === 'PUT') {
        const body = await readJson(req, TORRENT_COLUMNS.filter((c) => c !== 'info_hash'));
        const torrent = parse(() => torrentFromRow({ ...body, info_hash: id }));
        await registry.putTorrent(torrent);
        logger.info({ admin: 'put_torrent', torrent: torrentToJson(torrent) }, 'admin change');
        return send(res, 200, torrentToJson(torrent));
      }
      if (method === 'DELETE') {
        if (!(await registry.removeTorrent(key))) return send(res, 404, { error: 'no such torrent' });
        logger.info({ admin: 'remove_torrent', info_hash: id }, 'admin change');
        return send(res, 204, undefined);
      }
    }
    throw new HttpError(404, 'no such admin endpoint');
  };

  return (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path !== '/admin' && !path.startsWith('/admin/')) return false;
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, { error: 'missing or wrong bearer token' });
      return true;
    }
    const parts = path.split('/').slice(2).filter((p) => p !== '');
    route(req, res, parts).catch((err: unknown) => {
      closeIfUnread(req, res); // a body too large (413) was not read to its end
      if (err instanceof HttpError) return send(res, err.status, { error: err.message });
      logger.error({ err }, 'admin API request failed');
      send(res, 500, { error: err instanceof Error ? err.message : String(err) });
    });
    return true;
  };
}

function parse<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RecordError) throw new HttpError(400, err.message);
    throw err;
  }
}
