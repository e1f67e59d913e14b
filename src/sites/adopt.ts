/**
 * A site's peer row as a baseline for the privtrak hook's first start (DeltaSink.adoptableBaselines):
 * shared by the site writers, each reading its own table (UNIT3D's `peers`, Gazelle's `xbt_files_users`).
 */
import type { AdoptedBaseline } from '../sinks/sink.js';
import { siteUserKey } from '../accounting/user-key.js';

export interface SitePeerRow {
  readonly userId: unknown;
  readonly infoHash: unknown;
  readonly peerId: unknown;
  readonly uploaded: unknown;
  readonly downloaded: unknown;
  readonly left: unknown;
  readonly lastMs: number;
}

/** The rows that name a 20-byte info_hash and peer_id, as baselines of their site users. */
export function adoptedBaselines(rows: Iterable<SitePeerRow>): AdoptedBaseline[] {
  const out: AdoptedBaseline[] = [];
  for (const r of rows) {
    const { infoHash: ih, peerId } = r;
    // Anything else is not a torrent or peer privtrak serves (Gazelle's info_hash is a blob).
    if (!Buffer.isBuffer(ih) || ih.length !== 20 || !Buffer.isBuffer(peerId) || peerId.length !== 20) continue;
    out.push({
      user: siteUserKey(Number(r.userId)), infoHash: Buffer.from(ih), peerId: Buffer.from(peerId),
      baseline: { uploaded: Number(r.uploaded), downloaded: Number(r.downloaded), left: Number(r.left), lastMs: r.lastMs },
    });
  }
  return out;
}
