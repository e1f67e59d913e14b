/**
 * The counters UNIT3D-Announce left for each live peer (UNIT3D's active `peers` rows), as
 * baselines the privtrak hook adopts on its very first start (DeltaSink.adoptableBaselines): a
 * peer's first announce to privtrak is counted from them, so nothing it moved across the cut-over
 * is lost (UNIT3D-Announce itself reloads the same rows at its start for the same reason).
 */
import type { Conn } from '../../sinks/mysql-session.js';
import type { AdoptedBaseline } from '../../sinks/sink.js';
import { adoptedBaselines } from '../adopt.js';

export async function unit3dAdoptable(conn: Conn): Promise<AdoptedBaseline[]> {
  // UNIX_TIMESTAMP of a TIMESTAMP column is the stored instant, whatever the session's time zone.
  const [rows] = await conn.query(`SELECT p.user_id, p.peer_id, t.info_hash, p.uploaded, p.downloaded, p.\`left\`, UNIX_TIMESTAMP(p.updated_at) AS at
    FROM peers p JOIN torrents t ON t.id = p.torrent_id WHERE p.active = 1 AND t.deleted_at IS NULL`);
  return adoptedBaselines((rows as Array<Record<string, unknown>>).map((r) => ({
    userId: r['user_id'], infoHash: r['info_hash'], peerId: r['peer_id'], uploaded: r['uploaded'], downloaded: r['downloaded'],
    left: r['left'], lastMs: Math.round(Number(r['at'] ?? 0) * 1000),
  })));
}
