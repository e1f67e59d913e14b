/**
 * The Gazelle tables the writer touches, by layout (config `schema`): OPS Gazelle keeps the
 * counters in users_leech_stats / torrents_leech_stats, WhatCD's Gazelle in users_main / torrents
 * (../shared/sites/README.md B.2, B.4). Everything else (xbt_files_users, xbt_snatched,
 * users_freeleeches) is the same in both.
 *
 * Also privtrak's own mark table: the only table the writer ever creates in the site database.
 */
import type { Conn } from '../../sinks/mysql-session.js';
import { SinkSchemaError } from '../../sinks/sink-errors.js';

export type GazelleLayout = 'ops' | 'whatcd';

export interface GazelleTables {
  readonly layout: GazelleLayout;
  /** Users' credited totals: table, key column. */
  readonly userStats: string;
  readonly userKey: string;
  /** Torrents' counters: table, key column. */
  readonly torrentStats: string;
  readonly torrentKey: string;
}

export function gazelleTables(layout: GazelleLayout): GazelleTables {
  return layout === 'ops'
    ? { layout, userStats: 'users_leech_stats', userKey: 'UserID', torrentStats: 'torrents_leech_stats', torrentKey: 'TorrentID' }
    : { layout, userStats: 'users_main', userKey: 'ID', torrentStats: 'torrents', torrentKey: 'ID' };
}

/** Every column the writer reads or writes, per table: open() checks they are all there. */
export function requiredColumns(t: GazelleTables): Record<string, readonly string[]> {
  const cols: Record<string, string[]> = {
    users_main: ['ID'],
    torrents: ['ID'],
    xbt_files_users: ['uid', 'fid', 'active', 'announced', 'completed', 'downloaded', 'remaining', 'uploaded', 'upspeed', 'downspeed',
      'corrupt', 'timespent', 'useragent', 'peer_id', 'mtime', 'ip'],
    xbt_snatched: ['uid', 'fid', 'tstamp', 'IP'],
    users_freeleeches: ['UserID', 'TorrentID', 'Downloaded'],
  };
  const add = (table: string, names: string[]) => { cols[table] = [...(cols[table] ?? []), ...names]; };
  add(t.userStats, t.layout === 'ops' ? ['UserID', 'Uploaded', 'Downloaded'] : ['Uploaded', 'Downloaded']);
  add(t.torrentStats, [...(t.layout === 'ops' ? ['TorrentID'] : []), 'Seeders', 'Leechers', 'Snatched', 'Balance', 'last_action']);
  return cols;
}

/**
 * Throws SinkSchemaError naming every missing `table.column` (a wrong `schema:` setting shows up
 * here, at start, instead of as a batch failing forever). Column names compare case-insensitively,
 * as MySQL does.
 */
export async function checkColumns(conn: Conn, t: GazelleTables): Promise<void> {
  const need = requiredColumns(t);
  const [rows] = await conn.query(
    `SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name IN (?)`,
    [Object.keys(need)],
  );
  const have = new Set((rows as Array<{ t: string; c: string }>).map((r) => `${r.t}.${r.c}`.toLowerCase()));
  const missing: string[] = [];
  for (const [table, names] of Object.entries(need)) {
    for (const c of names) if (!have.has(`${table}.${c}`.toLowerCase())) missing.push(`${table}.${c}`);
  }
  if (missing.length > 0) {
    throw new SinkSchemaError(`gazelle writer: the site database lacks ${missing.join(', ')} (is \`site.schema\` "${t.layout}" the right layout?)`);
  }
}
