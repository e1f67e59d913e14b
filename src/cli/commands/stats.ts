/**
 * `privtrak stats [--user PASSKEY] [--by-torrent] [--json] [--detail]`: totals from the
 * configured sink. `uploaded`/`downloaded` are credited bytes (after freeleech multipliers);
 * `--detail` adds the raw bytes and, per torrent, the site's torrent ID. JSON lines carry byte
 * counts as exact integers (written from bigints, never through a float), so 64-bit totals print exactly.
 */
import type { DeltaSink, TotalsRow } from '../../sinks/sink.js';
import { passkeyToUserId } from '../../middleware/privtrak/identifier.js';
import { ConfigError } from '../../config/errors.js';

export interface StatsArgs {
  readonly user?: string;
  readonly byTorrent: boolean;
  readonly json: boolean;
  /** Also raw bytes and site torrent IDs. */
  readonly detail?: boolean;
}

export function formatJsonRow(row: TotalsRow, byTorrent: boolean, detail = false): string {
  const ih = byTorrent && row.infoHash ? `"info_hash":"${row.infoHash.toString('hex')}",` : '';
  const extra = !detail ? '' : `,"raw_uploaded":${row.rawUploaded},"raw_downloaded":${row.rawDownloaded}`
    + (byTorrent ? `,"site_torrent_id":${row.siteTorrentId ?? null}` : '');
  return `{"user":"${row.user.toString('hex')}",${ih}"uploaded":${row.uploaded},"downloaded":${row.downloaded},`
    + `"seed_time":${row.seedTime},"leech_time":${row.leechTime},"snatched":${row.snatched}${extra}}`;
}

export function formatTable(rows: TotalsRow[], byTorrent: boolean, detail = false): string {
  const header = ['user', ...(byTorrent ? ['info_hash'] : []), 'uploaded', 'downloaded', 'seed_time', 'leech_time', 'snatched',
    ...(detail ? ['raw_uploaded', 'raw_downloaded', ...(byTorrent ? ['site_torrent_id'] : [])] : [])];
  const lines = rows.map((r) => [
    r.user.toString('hex'), ...(byTorrent ? [r.infoHash?.toString('hex') ?? ''] : []),
    String(r.uploaded), String(r.downloaded), String(r.seedTime), String(r.leechTime), String(r.snatched),
    ...(detail ? [String(r.rawUploaded), String(r.rawDownloaded), ...(byTorrent ? [String(r.siteTorrentId ?? '')] : [])] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

export async function runStats(sink: DeltaSink, args: StatsArgs, out: (line: string) => void): Promise<void> {
  let user: Buffer | undefined;
  if (args.user !== undefined) {
    user = passkeyToUserId(args.user);
    if (user === undefined) throw new ConfigError('--user', 'expected a 32-hex-character passkey');
  }
  await sink.open();
  try {
    const rows = await sink.totals({ user, byTorrent: args.byTorrent });
    if (args.json) for (const r of rows) out(formatJsonRow(r, args.byTorrent, args.detail));
    else out(formatTable(rows, args.byTorrent, args.detail));
  } finally {
    await sink.close();
  }
}
