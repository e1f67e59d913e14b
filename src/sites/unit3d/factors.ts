/**
 * UNIT3D-Announce's credit factors (../shared/sites/README.md A.3), in percent:
 *
 *   upload   = max(site upload_factor, group double upload ? 200 : 100, torrent doubleup ? 200 : 100);
 *              a featured torrent sets it to 200
 *   download = min(site download_factor, group freeleech ? 0 : 100, 100 - min(torrent free, 100));
 *              personal freeleech, a freeleech token on the torrent or a featured torrent set it to 0
 *
 * Pure: the rules hook passes what it looked up.
 */

export interface FactorInputs {
  readonly siteUpload: number;
  readonly siteDownload: number;
  readonly groupUpload: number;
  readonly groupDownload: number;
  readonly torrentUpload: number;
  readonly torrentDownload: number;
  readonly featured: boolean;
  readonly personalFreeleech: boolean;
  readonly token: boolean;
}

export function uploadFactor(f: FactorInputs): number {
  if (f.featured) return 200;
  return Math.max(f.siteUpload, f.groupUpload, f.torrentUpload);
}

export function downloadFactor(f: FactorInputs): number {
  if (f.featured || f.personalFreeleech || f.token) return 0;
  return Math.min(f.siteDownload, f.groupDownload, f.torrentDownload);
}
