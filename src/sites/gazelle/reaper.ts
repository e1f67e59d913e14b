/**
 * The peer reaper: xbt_files_users rows still `active = 1` whose peer has been silent for longer
 * than the swarm store's peer lifetime are marked `active = 0`, and their torrents' Seeders and
 * Leechers recounted, so the site's counts agree with the swarm privtrak serves. Ocelot never does
 * this (WhatCD/Ocelot#9, "xbt_files_users not in sync"): its rows stay active until the next restart
 * truncates the table.
 *
 * One round is one transaction over at most `limit` rows. The candidates are found with a plain
 * (non-locking) read — the mtime index also holds every old inactive row, which a locking read
 * would lock too — and the UPDATE re-checks `active = 1 AND mtime < cutoff` by primary key, so a
 * peer that announced in between is left alone. Rounds run on the writer's session, queued with
 * its batches: the two never run at once, so they cannot deadlock each other.
 */
import type { Conn } from '../../sinks/mysql-session.js';
import { chunkRows, countSwarms, sendAll, swarmCountUpdates } from './writer-sql.js';
import type { GazelleTables } from './writer-tables.js';

export interface ReapResult {
  /** Rows marked inactive. */
  readonly reaped: number;
  /** Whether the round found `limit` candidates (more may be waiting). */
  readonly full: boolean;
}

export async function reapRound(conn: Conn, t: GazelleTables, cutoffS: number, limit: number, maxRecords: number): Promise<ReapResult> {
  const [found] = await conn.query(
    'SELECT peer_id, fid, uid FROM xbt_files_users WHERE active = 1 AND mtime < ? ORDER BY mtime LIMIT ?', [cutoffS, limit]);
  const rows = found as Array<{ peer_id: Buffer; fid: number; uid: number }>;
  if (rows.length === 0) return { reaped: 0, full: false };
  // Key order, as the writer's upserts lock: concurrent transactions queue instead of deadlocking.
  rows.sort((a, b) => Buffer.compare(a.peer_id, b.peer_id) || a.fid - b.fid || a.uid - b.uid);
  await conn.query('START TRANSACTION');
  try {
    let reaped = 0;
    const size = chunkRows(3, maxRecords);
    for (let i = 0; i < rows.length; i += size) {
      const keys = rows.slice(i, i + size).map((r) => `(X'${r.peer_id.toString('hex')}',${Number(r.fid)},${Number(r.uid)})`);
      const [res] = await conn.query(
        `UPDATE xbt_files_users SET active = 0 WHERE (peer_id, fid, uid) IN (${keys.join(',')}) AND active = 1 AND mtime < ?`, [cutoffS]);
      reaped += (res as { affectedRows: number }).affectedRows;
    }
    const fids = [...new Set(rows.map((r) => Number(r.fid)))].sort((a, b) => a - b);
    const counts = await countSwarms(conn, fids, maxRecords);
    await sendAll(conn, [...swarmCountUpdates(t, fids, counts, maxRecords), 'COMMIT']);
    return { reaped, full: rows.length >= limit };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
