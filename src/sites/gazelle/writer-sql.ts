/**
 * The Gazelle writer's statements as SQL text (rows from writer-plan.ts, already sorted by key).
 *
 * Values are printed into the text, not bound: they are ours and of three kinds — integers,
 * binary peer ids as hex literals, and short strings (IPv4 text, a sanitized user agent) escaped by
 * mysql2. Multi-row statements still keep to MySQL's 65,535-placeholder limit per statement (what
 * a prepared form of them would need, as UNIT3D-Announce sizes its batches) and to
 * `max_records_per_batch` when set.
 *
 * `VALUES(col)` in ON DUPLICATE KEY UPDATE, not MySQL 8's row alias: MariaDB has none. Where a row
 * must only ever be updated (WhatCD's users_main and torrents, users_freeleeches: their NOT NULL
 * columns without defaults make an upsert fail under strict mode even when the row exists), the
 * rows go in as a derived table (SELECT … UNION ALL SELECT …) joined by key: one statement per
 * chunk, linear in the rows.
 */
import mysql from 'mysql2/promise';
import type { Conn } from '../../sinks/mysql-session.js';
import type { PeerRow, SnatchRow, TokenRow, TorrentRow, UserRow } from './writer-plan.js';
import type { GazelleTables } from './writer-tables.js';

export const PLACEHOLDER_LIMIT = 65_535;
/** One round trip carries statements up to this size (far below MariaDB's 16 MiB max_allowed_packet default). */
const PACKET_BYTES = 4 * 1024 * 1024;

/** Rows per statement for a table of `columns` values per row. */
export function chunkRows(columns: number, maxRecords: number): number {
  const byPlaceholders = Math.floor(PLACEHOLDER_LIMIT / columns);
  return maxRecords > 0 ? Math.min(maxRecords, byPlaceholders) : byPlaceholders;
}

const int = (n: number): string => {
  // Never a fraction or an exponent in the text: MySQL would read a DOUBLE and round.
  if (!Number.isSafeInteger(n)) throw new RangeError(`gazelle writer: ${n} is not an exact integer`);
  return String(n);
};
const hex = (b: Buffer) => `X'${b.toString('hex')}'`;
const str = (s: string) => mysql.escape(s);

function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** `(SELECT a AS x, b AS y UNION ALL SELECT c, d …) v`: rows as a table to join (names on the first row only). */
function derived(names: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const selects = rows.map((r, i) => (i === 0 ? `SELECT ${r.map((v, j) => `${v} AS ${names[j]}`).join(', ')}` : `SELECT ${r.join(', ')}`));
  return `(${selects.join(' UNION ALL ')}) v`;
}

const U32_MAX = 4_294_967_295;
const I32_MAX = 2_147_483_647;

const PEER_HEAD = `INSERT INTO xbt_files_users (uid, fid, active, announced, completed, downloaded, remaining, uploaded, upspeed, downspeed,
  corrupt, timespent, useragent, peer_id, mtime, ip) VALUES `;
// connectable is left as it is (not Ocelot's to know either). The counters that add up are
// capped at their column's maximum: a value past it would fail the batch under strict mode, forever.
const PEER_TAIL = ` ON DUPLICATE KEY UPDATE active = VALUES(active), announced = LEAST(announced + VALUES(announced), ${I32_MAX}),
  completed = GREATEST(completed, VALUES(completed)), downloaded = VALUES(downloaded), remaining = VALUES(remaining),
  uploaded = VALUES(uploaded), upspeed = VALUES(upspeed), downspeed = VALUES(downspeed), corrupt = 0,
  timespent = LEAST(timespent + VALUES(timespent), ${U32_MAX}), useragent = VALUES(useragent), mtime = VALUES(mtime), ip = VALUES(ip)`;

export function peerUpserts(rows: readonly PeerRow[], maxRecords: number): string[] {
  return chunks(rows, chunkRows(16, maxRecords)).map((c) => PEER_HEAD + c.map((p) =>
    `(${int(p.uid)},${int(p.fid)},${p.active},${int(Math.min(p.announced, I32_MAX))},${p.completed},${int(p.downloaded)},`
    + `${int(p.remaining)},${int(p.uploaded)},${int(p.upspeed)},${int(p.downspeed)},0,${int(Math.min(p.timespent, U32_MAX))},`
    + `${str(p.useragent)},${hex(p.peerId)},${int(p.mtime)},${str(p.ip)})`).join(',') + PEER_TAIL);
}

/** Credited totals: OPS upserts users_leech_stats (a missing row is created, as Ocelot does); WhatCD updates users_main. */
export function userWrites(t: GazelleTables, rows: readonly UserRow[], maxRecords: number): string[] {
  if (t.layout === 'ops') {
    return chunks(rows, chunkRows(3, maxRecords)).map((c) => `INSERT INTO users_leech_stats (UserID, Uploaded, Downloaded) VALUES `
      + c.map((u) => `(${int(u.uid)},${int(u.up)},${int(u.down)})`).join(',')
      + ` ON DUPLICATE KEY UPDATE Uploaded = Uploaded + VALUES(Uploaded), Downloaded = Downloaded + VALUES(Downloaded)`);
  }
  return chunks(rows, chunkRows(3, maxRecords)).map((c) => `UPDATE users_main u JOIN `
    + derived(['id', 'up', 'down'], c.map((u) => [int(u.uid), int(u.up), int(u.down)]))
    + ` ON u.ID = v.id SET u.Uploaded = u.Uploaded + v.up, u.Downloaded = u.Downloaded + v.down`);
}

/** Token usage: only existing token rows (users_freeleeches.Time has no default, so no upsert). */
export function tokenUpdates(rows: readonly TokenRow[], maxRecords: number): string[] {
  return chunks(rows, chunkRows(3, maxRecords)).map((c) => `UPDATE users_freeleeches f JOIN `
    + derived(['uid', 'fid', 'd'], c.map((r) => [int(r.uid), int(r.fid), int(r.downloaded)]))
    + ` ON f.UserID = v.uid AND f.TorrentID = v.fid SET f.Downloaded = f.Downloaded + v.d`);
}

/** One row per snatch. Not INSERT IGNORE (Ocelot's): under it a bad value would be stored clipped instead of failing. */
export function snatchInserts(rows: readonly SnatchRow[], maxRecords: number): string[] {
  return chunks(rows, chunkRows(4, maxRecords)).map((c) => `INSERT INTO xbt_snatched (uid, fid, tstamp, IP) VALUES `
    + c.map((s) => `(${int(s.uid)},${int(s.fid)},${int(s.tstamp)},${str(s.ip)})`).join(','));
}

/** Seeders and leechers of each torrent, counted from its active peer rows (as this transaction sees them). */
export function swarmCountSql(fids: readonly number[]): string {
  return `SELECT fid, SUM(remaining = 0) AS seeders, SUM(remaining > 0) AS leechers FROM xbt_files_users
    WHERE active = 1 AND fid IN (${fids.map(int).join(',')}) GROUP BY fid`;
}

export interface SwarmCount { seeders: number; leechers: number }

export async function countSwarms(conn: Conn, fids: readonly number[], maxRecords: number): Promise<Map<number, SwarmCount>> {
  const out = new Map<number, SwarmCount>();
  for (const c of chunks(fids, chunkRows(1, maxRecords))) {
    const [rows] = await conn.query(swarmCountSql(c));
    for (const r of rows as Array<Record<string, unknown>>) {
      out.set(Number(r['fid']), { seeders: Number(r['seeders']), leechers: Number(r['leechers']) });
    }
  }
  return out;
}

/**
 * Torrent counters: Seeders/Leechers absolute (the counts above), Snatched and Balance added.
 * Ocelot writes Balance as the absolute value it keeps in memory since its start; privtrak adds
 * each batch's raw (upload − download) instead: exact across restarts and several instances.
 * last_action moves only while the torrent has a seeder, as in Ocelot.
 */
export function torrentWrites(t: GazelleTables, rows: readonly TorrentRow[], counts: ReadonlyMap<number, SwarmCount>, maxRecords: number): string[] {
  const c0 = { seeders: 0, leechers: 0 };
  if (t.layout === 'ops') {
    return chunks(rows, chunkRows(6, maxRecords)).map((c) => `INSERT INTO torrents_leech_stats (TorrentID, Seeders, Leechers, Snatched, Balance, last_action) VALUES `
      + c.map((r) => {
        const n = counts.get(r.fid) ?? c0;
        return `(${int(r.fid)},${int(n.seeders)},${int(n.leechers)},${int(r.snatched)},${int(r.balance)},${n.seeders > 0 ? 'NOW()' : 'NULL'})`;
      }).join(',')
      + ` ON DUPLICATE KEY UPDATE Seeders = VALUES(Seeders), Leechers = VALUES(Leechers), Snatched = Snatched + VALUES(Snatched),
        Balance = Balance + VALUES(Balance), last_action = IF(VALUES(Seeders) > 0, NOW(), last_action)`);
  }
  return chunks(rows, chunkRows(5, maxRecords)).map((c) => `UPDATE torrents t JOIN `
    + derived(['id', 's', 'l', 'sn', 'bal'], c.map((r) => {
      const n = counts.get(r.fid) ?? c0;
      return [int(r.fid), int(n.seeders), int(n.leechers), int(r.snatched), int(r.balance)];
    }))
    + ` ON t.ID = v.id SET t.Seeders = v.s, t.Leechers = v.l, t.Snatched = t.Snatched + v.sn, t.Balance = t.Balance + v.bal,
      t.last_action = IF(v.s > 0, NOW(), t.last_action)`);
}

/** Seeders/Leechers only (the reaper): existing rows only, so a deleted torrent cannot fail the round. */
export function swarmCountUpdates(t: GazelleTables, fids: readonly number[], counts: ReadonlyMap<number, SwarmCount>, maxRecords: number): string[] {
  const c0 = { seeders: 0, leechers: 0 };
  return chunks(fids, chunkRows(3, maxRecords)).map((c) => `UPDATE ${t.torrentStats} t JOIN `
    + derived(['id', 's', 'l'], c.map((fid) => {
      const n = counts.get(fid) ?? c0;
      return [int(fid), int(n.seeders), int(n.leechers)];
    }))
    + ` ON t.${t.torrentKey} = v.id SET t.Seeders = v.s, t.Leechers = v.l`);
}

/** The ids among `ids` that exist in `table`.`column` (a consistent read: no locks on the site's rows). */
export async function existingIds(conn: Conn, table: string, column: string, ids: readonly number[], maxRecords: number): Promise<Set<number>> {
  const out = new Set<number>();
  for (const c of chunks(ids, chunkRows(1, maxRecords))) {
    const [rows] = await conn.query(`SELECT ${column} AS id FROM ${table} WHERE ${column} IN (${c.map(int).join(',')})`);
    for (const r of rows as Array<Record<string, unknown>>) out.add(Number(r['id']));
  }
  return out;
}

/**
 * Sends statements in as few round trips as fit: packed up to PACKET_BYTES per multi-statement
 * query. A failing statement stops the rest of its query and rejects (the caller rolls back).
 */
export async function sendAll(conn: Conn, statements: readonly string[]): Promise<void> {
  let pack: string[] = [];
  let bytes = 0;
  for (const s of statements) {
    if (pack.length > 0 && bytes + s.length > PACKET_BYTES) {
      await conn.query(pack.join(';\n'));
      pack = [];
      bytes = 0;
    }
    pack.push(s);
    bytes += s.length + 2;
  }
  if (pack.length > 0) await conn.query(pack.join(';\n'));
}
