/**
 * Reads UNIT3D's state from the site's database at start-up and on `POST /config/reload`, with
 * the queries UNIT3D-Announce runs (../shared/sites/README.md A.4), on one short-lived connection
 * (MysqlSession: each query within the site's `timeout`, strict SQL mode).
 *
 * torrents.info_hash is indexed but not unique, so one info_hash can name several rows (a
 * re-upload after a deletion, a duplicate awaiting moderation). As UNIT3D-Announce does, one row
 * per info_hash wins: an undeleted approved one, else an undeleted one, else a deleted one; the
 * lowest id among equals.
 */
import { MysqlSession, type Conn } from '../../sinks/mysql-session.js';
import { redactUrl } from '../../sinks/sink-errors.js';
import type { LoadedPeer } from './peer-index.js';
import { STATUS_APPROVED, type Unit3dGroup, type Unit3dSnapshot, type Unit3dTorrent, type Unit3dUser } from './state.js';

/** A load failed: the start stops (or the reload is refused) with this, naming the table. Never carries a password. */
export class SiteLoadError extends Error {
  readonly code = 'SITE_LOAD';
}

type Row = Record<string, unknown>;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const bool = (v: unknown): boolean => num(v) !== 0;

export async function loadUnit3dSnapshot(url: string, timeoutMs: number): Promise<Unit3dSnapshot> {
  const session = new MysqlSession({ url, timeoutMs });
  const query = async (what: string, sql: string): Promise<Row[]> => {
    try {
      return await session.run(async (conn: Conn) => (await conn.query(sql))[0] as Row[]);
    } catch (err) {
      throw new SiteLoadError(`site unit3d: loading ${what} from ${redactUrl(url)} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  try {
    const users = (await query('users', 'SELECT id, group_id, passkey, can_download, is_donor, is_lifetime FROM users WHERE deleted_at IS NULL'))
      .map((r): Unit3dUser => ({
        id: num(r['id']), groupId: num(r['group_id']), passkey: String(r['passkey']), canDownload: bool(r['can_download']),
        isDonor: bool(r['is_donor']), isLifetime: bool(r['is_lifetime']), numSeeding: 0, numLeeching: 0,
      }));
    const torrents = dedupeTorrents(await query('torrents', `SELECT id, info_hash, status, seeders, leechers, times_completed,
        100 - LEAST(free, 100) AS download_factor, IF(doubleup, 200, 100) AS upload_factor, deleted_at IS NOT NULL AS is_deleted FROM torrents`))
      .map((r): Unit3dTorrent => ({
        id: num(r['id']), infoHash: Buffer.from(r['info_hash'] as Buffer), status: num(r['status']), isDeleted: bool(r['is_deleted']),
        seeders: num(r['seeders']), leechers: num(r['leechers']), timesCompleted: num(r['times_completed']),
        downloadFactor: num(r['download_factor']), uploadFactor: num(r['upload_factor']),
      }));
    const groups = (await query('groups', 'SELECT id, slug, download_slots, is_immune, IF(is_freeleech, 0, 100) AS download_factor, IF(is_double_upload, 200, 100) AS upload_factor FROM `groups`'))
      .map((r): Unit3dGroup => ({
        id: num(r['id']), slug: String(r['slug']), downloadSlots: r['download_slots'] === null ? null : num(r['download_slots']),
        isImmune: bool(r['is_immune']), downloadFactor: num(r['download_factor']), uploadFactor: num(r['upload_factor']),
      }));
    // As bytes: a peer_id is binary, and its prefix is compared byte for byte.
    const blacklistedPrefixes = (await query('blacklist_clients', 'SELECT CAST(peer_id_prefix AS BINARY) AS prefix FROM blacklist_clients'))
      .map((r) => Buffer.from(r['prefix'] as Buffer)).filter((b) => b.length > 0);
    const freeleechTokens = (await query('freeleech_tokens', 'SELECT user_id, torrent_id FROM freeleech_tokens'))
      .map((r) => ({ userId: num(r['user_id']), torrentId: num(r['torrent_id']) }));
    const personalFreeleech = (await query('personal_freeleeches', 'SELECT user_id FROM personal_freeleeches')).map((r) => num(r['user_id']));
    const featured = (await query('featured_torrents', 'SELECT torrent_id FROM featured_torrents')).map((r) => num(r['torrent_id']));
    const peers = (await query('peers', `SELECT user_id, torrent_id, peer_id, INET6_NTOA(ip) AS ip, port, seeder, visible, uploaded, downloaded,
        \`left\`, agent, UNIX_TIMESTAMP(updated_at) AS updated FROM peers WHERE active = 1`))
      .map((r): LoadedPeer => ({
        userId: num(r['user_id']), torrentId: num(r['torrent_id']), peerId: Buffer.from(r['peer_id'] as Buffer), ip: String(r['ip'] ?? ''),
        port: num(r['port']), seeder: bool(r['seeder']), visible: bool(r['visible']), uploaded: num(r['uploaded']),
        downloaded: num(r['downloaded']), left: num(r['left']), agent: String(r['agent']),
        updatedMs: r['updated'] === null ? 0 : Math.round(num(r['updated']) * 1000),
      }));
    return { users, torrents, groups, blacklistedPrefixes, freeleechTokens, personalFreeleech, featured, peers };
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** 0 = undeleted and approved, 1 = undeleted, 2 = deleted: the lowest rank (then id) keeps the info_hash. */
function rank(r: Row): number {
  if (bool(r['is_deleted'])) return 2;
  return num(r['status']) === STATUS_APPROVED ? 0 : 1;
}

export function dedupeTorrents(rows: Row[]): Row[] {
  const best = new Map<string, Row>();
  for (const r of rows) {
    const key = Buffer.from(r['info_hash'] as Buffer).toString('latin1');
    const cur = best.get(key);
    if (cur === undefined || rank(r) < rank(cur) || (rank(r) === rank(cur) && num(r['id']) < num(cur['id']))) best.set(key, r);
  }
  return [...best.values()];
}
