/**
 * `privtrak stats [--user PASSKEY | --site-user ID] [--by-torrent] [--json] [--detail]`: totals
 * from the configured sink. `uploaded`/`downloaded` are credited bytes (after freeleech
 * multipliers); `--detail` adds the raw bytes and, per torrent, the site's torrent ID. JSON lines
 * carry byte counts as exact integers (written from bigints, never through a float), so 64-bit
 * totals print exactly.
 *
 * Users are named as privtrak keys them (accounting/user-key.ts), never by passkey: a site user by
 * `site_user_id`, any other by `user`, the hex of its hashed key. `--user PASSKEY` computes the
 * passkey's key the way the tracker does (the registry's site user ID, else the keyed hash).
 */
import type { DeltaSink, TotalsRow } from '../../sinks/sink.js';
import { siteUserIdOf, siteUserKey } from '../../accounting/user-key.js';
import { isPasskey } from '../../middleware/privtrak/identifier.js';
import { toSiteId } from '../../access/records.js';
import { ConfigError } from '../../config/errors.js';

export interface StatsArgs {
  /** A passkey: its user's totals. */
  readonly user?: string;
  /** A site user ID: that user's totals. */
  readonly siteUser?: string;
  readonly byTorrent: boolean;
  readonly json: boolean;
  /** Also raw bytes and site torrent IDs. */
  readonly detail?: boolean;
}

/** How `--user PASSKEY` becomes a user key (main.ts: from the config's registry and secret). */
export type PasskeyResolver = (passkey: string) => Promise<Buffer>;

/** The user's name in JSON: `"site_user_id":N` for a site user, else `"user":"<key hex>"`. */
function userJson(user: Buffer): string {
  const site = siteUserIdOf(user);
  return site !== undefined ? `"site_user_id":${site}` : `"user":"${user.toString('hex')}"`;
}

/** The user's name in a table: `site:N` or the key's hex. */
function userText(user: Buffer): string {
  const site = siteUserIdOf(user);
  return site !== undefined ? `site:${site}` : user.toString('hex');
}

export function formatJsonRow(row: TotalsRow, byTorrent: boolean, detail = false): string {
  const ih = byTorrent && row.infoHash ? `"info_hash":"${row.infoHash.toString('hex')}",` : '';
  const extra = !detail ? '' : `,"raw_uploaded":${row.rawUploaded},"raw_downloaded":${row.rawDownloaded}`
    + (byTorrent ? `,"site_torrent_id":${row.siteTorrentId ?? null}` : '');
  return `{${userJson(row.user)},${ih}"uploaded":${row.uploaded},"downloaded":${row.downloaded},`
    + `"seed_time":${row.seedTime},"leech_time":${row.leechTime},"snatched":${row.snatched}${extra}}`;
}

export function formatTable(rows: TotalsRow[], byTorrent: boolean, detail = false): string {
  const header = ['user', ...(byTorrent ? ['info_hash'] : []), 'uploaded', 'downloaded', 'seed_time', 'leech_time', 'snatched',
    ...(detail ? ['raw_uploaded', 'raw_downloaded', ...(byTorrent ? ['site_torrent_id'] : [])] : [])];
  const lines = rows.map((r) => [
    userText(r.user), ...(byTorrent ? [r.infoHash?.toString('hex') ?? ''] : []),
    String(r.uploaded), String(r.downloaded), String(r.seedTime), String(r.leechTime), String(r.snatched),
    ...(detail ? [String(r.rawUploaded), String(r.rawDownloaded), ...(byTorrent ? [String(r.siteTorrentId ?? '')] : [])] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

async function userOf(args: StatsArgs, resolve: PasskeyResolver | undefined): Promise<Buffer | undefined> {
  if (args.user !== undefined && args.siteUser !== undefined) throw new ConfigError('--user', 'give --user or --site-user, not both');
  if (args.siteUser !== undefined) {
    let id: number | null;
    try {
      id = toSiteId(args.siteUser);
    } catch {
      id = null;
    }
    if (id === null) throw new ConfigError('--site-user', 'expected a site user ID (a non-negative integer)');
    return siteUserKey(id);
  }
  if (args.user === undefined) return undefined;
  if (!isPasskey(args.user)) throw new ConfigError('--user', 'expected a 32-hex-character passkey');
  if (resolve === undefined) throw new ConfigError('--user', 'no way to key a passkey here (no config)');
  return resolve(args.user);
}

export async function runStats(sink: DeltaSink, args: StatsArgs, out: (line: string) => void, resolve?: PasskeyResolver): Promise<void> {
  const user = await userOf(args, resolve);
  await sink.open();
  try {
    const rows = await sink.totals({ user, byTorrent: args.byTorrent });
    if (args.json) for (const r of rows) out(formatJsonRow(r, args.byTorrent, args.detail));
    else out(formatTable(rows, args.byTorrent, args.detail));
  } finally {
    await sink.close();
  }
}
