/**
 * The start-up load: the reads Ocelot makes (OPSnet/Ocelot db.cpp; ../shared/sites B.1), with
 * OPS Gazelle's tables by default and WhatCD's with `schema: whatcd` (its torrents table holds
 * Snatched itself). Reads only: privtrak never truncates xbt_files_users nor zeroes the seeders
 * and leechers at start-up, as Ocelot does unless `readonly` — a second instance (or a dry run
 * beside Ocelot) must not wipe what the others keep.
 *
 * A failed read fails the start with GazelleLoadError naming the read (the URL's password is
 * never in the message): without its users and torrents the tracker would refuse everyone.
 */
import type { GazelleSiteConfig } from '../config.js';
import { MysqlSession, type Conn } from '../../sinks/mysql-session.js';
import { redactUrl } from '../../sinks/sink-errors.js';
import type { FreeType, GazelleSnapshot, GazelleTorrent, GazelleUser } from './state.js';

export class GazelleLoadError extends Error {
  readonly code = 'SITE_LOAD';
}

type Row = unknown[];

const USERS_SQL = `SELECT ID, torrent_pass, can_leech, (Visible = '0' OR IP = '127.0.0.1') AS Protected
  FROM users_main WHERE Enabled = '1'`;

/**
 * OPS keeps Snatched in torrents_leech_stats. Ocelot joins it with INNER JOIN; a LEFT JOIN here,
 * so that a torrent whose stats row is missing is still served (its Snatched reads 0) rather than
 * refused as unregistered — the writer creates the row on its first flush.
 */
const TORRENTS_SQL = {
  ops: `SELECT t.ID, t.info_hash, t.FreeTorrent, COALESCE(tls.Snatched, 0)
    FROM torrents t LEFT JOIN torrents_leech_stats tls ON tls.TorrentID = t.ID`,
  whatcd: 'SELECT ID, info_hash, FreeTorrent, Snatched FROM torrents',
} as const;

const TOKENS_SQL = `SELECT uf.UserID, t.ID FROM users_freeleeches uf JOIN torrents t ON t.ID = uf.TorrentID WHERE uf.Expired = '0'`;

const WHITELIST_SQL = 'SELECT peer_id FROM xbt_client_whitelist';

/** Rows as arrays: a site has millions of torrents, and arrays cost less than objects with keys. */
async function rows(conn: Conn, sql: string): Promise<Row[]> {
  const [r] = await conn.query({ sql, rowsAsArray: true });
  return r as Row[];
}

function int(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new TypeError(`not an integer: ${String(v)}`);
  return n;
}

function freeType(v: unknown): FreeType {
  const s = String(v);
  // As Ocelot reads it: '0' normal, '1' free, anything else neutral.
  return s === '0' ? 0 : s === '1' ? 1 : 2;
}

function bytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(String(v), 'latin1');
}

/** A whitelist prefix as the peer_id bytes it matches: the column is text, so its UTF-8 bytes. */
function prefixBytes(v: unknown): string {
  if (v === null || v === undefined) return '';
  return (Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8')).toString('latin1');
}

export async function loadGazelle(config: GazelleSiteConfig): Promise<GazelleSnapshot> {
  const session = new MysqlSession({ url: config.url, timeoutMs: config.timeout });
  const step = async <T>(what: string, fn: (conn: Conn) => Promise<T>): Promise<T> => {
    try {
      return await session.run(fn);
    } catch (err) {
      throw new GazelleLoadError(`site gazelle: loading ${what} from ${redactUrl(config.url)} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  try {
    const users = await step('users (users_main)', async (conn) => (await rows(conn, USERS_SQL)).map(([id, passkey, canLeech, prot]) => ({
      passkey: String(passkey),
      user: { id: int(id), canLeech: int(canLeech) !== 0, protected: int(prot) !== 0 } satisfies GazelleUser,
    })));
    const torrentsTable = config.schema === 'whatcd' ? 'torrents' : 'torrents, torrents_leech_stats';
    const torrents = await step(`torrents (${torrentsTable})`, async (conn) => (await rows(conn, TORRENTS_SQL[config.schema])).map(([id, ih, free, snatched]) => ({
      infoHash: bytes(ih),
      torrent: { id: int(id), free: freeType(free), snatched: int(snatched) } satisfies GazelleTorrent,
    })));
    const tokens = await step('freeleech tokens (users_freeleeches)', async (conn) => (await rows(conn, TOKENS_SQL)).map(([userId, torrentId]) => ({
      userId: int(userId), torrentId: int(torrentId),
    })));
    // As Ocelot reads them: a NULL or empty prefix matches every client (the list then checks nothing).
    const whitelist = await step('the client whitelist (xbt_client_whitelist)', async (conn) => (await rows(conn, WHITELIST_SQL))
      .map(([p]) => prefixBytes(p)));
    return { users, torrents, tokens, whitelist };
  } finally {
    await session.close().catch(() => undefined);
  }
}
