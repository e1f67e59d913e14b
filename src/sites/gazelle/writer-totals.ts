/**
 * `privtrak stats` over a Gazelle site: totals read back from the site's own tables.
 *
 * Per user: the credited Uploaded/Downloaded the site counts (users_leech_stats, or users_main for
 * WhatCD — including what the site counted before privtrak), snatches from xbt_snatched (torrents
 * snatched), and from the user's xbt_files_users rows what those hold: the clients' reported
 * counters as "raw" and timespent as seed or leech time by the row's current state. Gazelle keeps
 * no per-torrent credit, so per-torrent rows carry the clients' counters in both the credited and
 * the raw columns. Rows of peers the site has deleted are gone from these sums.
 */
import { siteUserKey } from '../../accounting/user-key.js';
import type { Conn } from '../../sinks/mysql-session.js';
import type { TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import { gazelleUserId } from './writer-plan.js';
import type { GazelleTables } from './writer-tables.js';

type Row = Record<string, unknown>;
const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(v as string | number));

const PEER_SUMS = `SUM(x.uploaded) AS raw_up, SUM(x.downloaded) AS raw_down,
  SUM(IF(x.remaining = 0, x.timespent, 0)) AS seed, SUM(IF(x.remaining > 0, x.timespent, 0)) AS leech`;

export async function gazelleTotals(conn: Conn, t: GazelleTables, query: TotalsQuery): Promise<TotalsRow[]> {
  let uid: number | undefined;
  if (query.user !== undefined) {
    uid = gazelleUserId(query.user);
    if (uid === undefined) return []; // not a site user: the site has no row of it
  }
  if (query.byTorrent) {
    const [rows] = await conn.query(`SELECT x.uid, x.fid, t.info_hash, ${PEER_SUMS}, MAX(x.completed) AS snatched
      FROM xbt_files_users x LEFT JOIN torrents t ON t.ID = x.fid ${uid === undefined ? '' : 'WHERE x.uid = ?'}
      GROUP BY x.uid, x.fid ORDER BY x.uid, x.fid`, uid === undefined ? [] : [uid]);
    return (rows as Row[]).map((r) => ({
      user: siteUserKey(Number(r['uid'])),
      infoHash: Buffer.isBuffer(r['info_hash']) ? r['info_hash'] : Buffer.alloc(0),
      uploaded: big(r['raw_up']), downloaded: big(r['raw_down']), rawUploaded: big(r['raw_up']), rawDownloaded: big(r['raw_down']),
      siteTorrentId: big(r['fid']), seedTime: big(r['seed']), leechTime: big(r['leech']), snatched: big(r['snatched']),
    }));
  }
  const key = `s.${t.userKey}`;
  const [rows] = await conn.query(`SELECT ${key} AS uid, s.Uploaded AS up, s.Downloaded AS down, p.raw_up, p.raw_down, p.seed, p.leech, n.snatched
    FROM ${t.userStats} s
    LEFT JOIN (SELECT x.uid, ${PEER_SUMS} FROM xbt_files_users x GROUP BY x.uid) p ON p.uid = ${key}
    LEFT JOIN (SELECT uid, COUNT(DISTINCT fid) AS snatched FROM xbt_snatched GROUP BY uid) n ON n.uid = ${key}
    ${uid === undefined ? '' : `WHERE ${key} = ?`} ORDER BY ${key}`, uid === undefined ? [] : [uid]);
  return (rows as Row[]).map((r) => ({
    user: siteUserKey(Number(r['uid'])),
    uploaded: big(r['up']), downloaded: big(r['down']), rawUploaded: big(r['raw_up']), rawDownloaded: big(r['raw_down']),
    seedTime: big(r['seed']), leechTime: big(r['leech']), snatched: big(r['snatched']),
  }));
}
