/**
 * The UNIT3D writer's reaper: privtrak cleans up its own peers rows (Roardom/UNIT3D-Announce#6,
 * where the announce server leaves them to the site's crons).
 *
 * One round is one transaction:
 *   1. active peers rows not updated for longer than the swarm's peer lifetime become inactive
 *      (updated_at kept, as UNIT3D's own AutoFlushPeers does), and their torrents' seeders/leechers
 *      drop by what each row counted — the same transition rule as the writer's (writer-peers.ts),
 *      so the counters keep agreeing with the peers table;
 *   2. history.active of those (user, torrent) pairs is recomputed from the peers left active;
 *   3. inactive rows older than `inactive_peer_ttl` are deleted (they count in no counter);
 *   4. whatever else the writer has queued for the round (unregistered info hashes), then COMMIT.
 * At most `maxRows` rows per step and round: a backlog (the first round after a long outage)
 * is worked off over several rounds, each short.
 *
 * READ COMMITTED for the round: the peers table has no index on updated_at (privtrak does not
 * alter site tables), so finding stale rows scans it; under REPEATABLE READ a locking scan would
 * lock every row it reads, under READ COMMITTED only the rows that match. The scan is the cost
 * of a round (UNIT3D's AutoFlushPeers cron makes the same scan).
 */
import type { Conn } from '../../sinks/mysql-session.js';
import { int, utc } from './writer-sql.js';

export interface ReapOptions {
  readonly nowMs: number;
  readonly peerLifetimeMs: number;
  readonly inactiveTtlMs: number;
  /** Most rows deactivated, and most deleted, in one round. */
  readonly maxRows: number;
  /** Rows per statement. */
  readonly chunk: number;
}

export interface ReapResult {
  readonly deactivated: number;
  readonly deleted: number;
}

interface StaleRow {
  user_id: number | string;
  torrent_id: number | string;
  peer_id: Buffer;
  seeder: number | string;
}

/** Runs one round on `conn` (no transaction open), with `extra` statements written in it before COMMIT. */
export async function reapRound(conn: Conn, o: ReapOptions, extra: Iterable<string> = []): Promise<ReapResult> {
  await conn.query("SET time_zone = '+00:00'; SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION");
  try {
    const [found] = await conn.query(
      `SELECT user_id, torrent_id, peer_id, seeder FROM peers WHERE active = 1 AND updated_at < ${utc(o.nowMs - o.peerLifetimeMs)}`
      + ` ORDER BY user_id, torrent_id, peer_id LIMIT ${int(o.maxRows)} FOR UPDATE`);
    const stale = found as StaleRow[];
    const writes: string[] = [];
    if (stale.length > 0) {
      const byTorrent = new Map<number, { s: number; l: number }>();
      const pairs = new Map<string, [number, number]>();
      for (const r of stale) {
        const t = Number(r.torrent_id);
        const u = Number(r.user_id);
        const c = byTorrent.get(t) ?? { s: 0, l: 0 };
        if (Number(r.seeder) === 1) c.s++;
        else c.l++;
        byTorrent.set(t, c);
        pairs.set(`${u}:${t}`, [u, t]);
      }
      for (let i = 0; i < stale.length; i += o.chunk) {
        const keys = stale.slice(i, i + o.chunk).map((r) => `(${int(Number(r.user_id))},${int(Number(r.torrent_id))},X'${r.peer_id.toString('hex')}')`);
        writes.push(`UPDATE peers SET active = 0, updated_at = updated_at WHERE (user_id, torrent_id, peer_id) IN (${keys.join(',')})`);
      }
      const torrents = [...byTorrent].sort((a, b) => a[0] - b[0]);
      for (let i = 0; i < torrents.length; i += o.chunk) {
        const derived = torrents.slice(i, i + o.chunk).map(([id, c], j) => (j === 0
          ? `SELECT ${int(id)} AS id, ${int(c.s)} AS s, ${int(c.l)} AS l` : `SELECT ${int(id)},${int(c.s)},${int(c.l)}`)).join(' UNION ALL ');
        writes.push(`UPDATE torrents t JOIN (${derived}) d ON t.id = d.id SET t.seeders = t.seeders - d.s, t.leechers = t.leechers - d.l`);
      }
      const pairList = [...pairs.values()].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      for (let i = 0; i < pairList.length; i += o.chunk) {
        const derived = pairList.slice(i, i + o.chunk).map(([u, t], j) => (j === 0
          ? `SELECT ${int(u)} AS u, ${int(t)} AS t` : `SELECT ${int(u)},${int(t)}`)).join(' UNION ALL ');
        writes.push(`UPDATE history h JOIN (${derived}) d ON h.user_id = d.u AND h.torrent_id = d.t`
          + ' SET h.active = EXISTS (SELECT 1 FROM peers p WHERE p.user_id = h.user_id AND p.torrent_id = h.torrent_id AND p.active = 1)');
      }
    }
    if (writes.length > 0) await conn.query(writes.join(';\n'));
    const [del] = await conn.query(
      `DELETE FROM peers WHERE active = 0 AND updated_at < ${utc(o.nowMs - o.inactiveTtlMs)} ORDER BY user_id, torrent_id, peer_id LIMIT ${int(o.maxRows)}`);
    const deleted = Number((del as { affectedRows?: number }).affectedRows ?? 0);
    for (const sql of extra) await conn.query(sql);
    await conn.query('COMMIT');
    return { deactivated: stale.length, deleted };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
