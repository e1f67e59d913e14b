/**
 * The counters Ocelot left for each live peer (`xbt_files_users`, active rows), as baselines the
 * privtrak hook adopts on its very first start (DeltaSink.adoptableBaselines): a peer's first
 * announce to privtrak is then counted from them, so nothing it moved across the cut-over is lost.
 */
import type { Conn } from '../../sinks/mysql-session.js';
import type { AdoptedBaseline } from '../../sinks/sink.js';
import { adoptedBaselines } from '../adopt.js';

export async function gazelleAdoptable(conn: Conn): Promise<AdoptedBaseline[]> {
  const [rows] = await conn.query(`SELECT x.uid, x.peer_id, t.info_hash, x.uploaded, x.downloaded, x.remaining, x.mtime
    FROM xbt_files_users x JOIN torrents t ON t.ID = x.fid WHERE x.active = 1`);
  return adoptedBaselines((rows as Array<Record<string, unknown>>).map((r) => ({
    userId: r['uid'], infoHash: r['info_hash'], peerId: r['peer_id'], uploaded: r['uploaded'], downloaded: r['downloaded'],
    left: r['remaining'], lastMs: Number(r['mtime']) * 1000,
  })));
}
