/**
 * The counters Ocelot left for each live peer (`xbt_files_users`, active rows), as baselines the
 * privtrak hook adopts on its very first start (DeltaSink.adoptableBaselines): a peer's first
 * announce to privtrak is then counted from them, so nothing it moved across the cut-over is lost.
 */
import type { Conn } from '../../sinks/mysql-session.js';
import type { AdoptedBaseline } from '../../sinks/sink.js';
import { siteUserKey } from '../../accounting/user-key.js';

export async function gazelleAdoptable(conn: Conn): Promise<AdoptedBaseline[]> {
  const [rows] = await conn.query(`SELECT x.uid, x.peer_id, t.info_hash, x.uploaded, x.downloaded, x.remaining, x.mtime
    FROM xbt_files_users x JOIN torrents t ON t.ID = x.fid WHERE x.active = 1`);
  const out: AdoptedBaseline[] = [];
  for (const r of rows as Array<Record<string, unknown>>) {
    const ih = r['info_hash'] as Buffer;
    const peerId = r['peer_id'] as Buffer;
    // info_hash is a blob (raw 20 bytes in Gazelle); anything else is not a torrent privtrak serves.
    if (!Buffer.isBuffer(ih) || ih.length !== 20 || !Buffer.isBuffer(peerId) || peerId.length !== 20) continue;
    out.push({
      user: siteUserKey(Number(r['uid'])), infoHash: Buffer.from(ih), peerId: Buffer.from(peerId),
      baseline: { uploaded: Number(r['uploaded']), downloaded: Number(r['downloaded']), left: Number(r['remaining']), lastMs: Number(r['mtime']) * 1000 },
    });
  }
  return out;
}
