/**
 * What the UNIT3D writer needs of the site's database: the columns it writes (checked at open,
 * so a wrong database or an older UNIT3D fails at start naming what is missing, not at the first
 * batch) and privtrak's own mark table. privtrak never alters, truncates or creates a site table.
 */
import type { Conn } from '../../sinks/mysql-session.js';
import { SinkSchemaError } from '../../sinks/sink-errors.js';

/** The site tables and the columns the writer reads or writes in each. */
export const WRITTEN_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  users: ['id', 'uploaded', 'downloaded'],
  torrents: ['id', 'info_hash', 'seeders', 'leechers', 'times_completed', 'balance', 'updated_at'],
  history: ['user_id', 'torrent_id', 'agent', 'uploaded', 'actual_uploaded', 'client_uploaded', 'downloaded', 'actual_downloaded',
    'client_downloaded', 'seeder', 'active', 'seedtime', 'immune', 'created_at', 'updated_at', 'completed_at'],
  peers: ['peer_id', 'ip', 'port', 'agent', 'uploaded', 'downloaded', 'left', 'active', 'seeder', 'visible', 'created_at', 'updated_at',
    'torrent_id', 'user_id', 'connectable'],
  unregistered_info_hashes: ['user_id', 'info_hash', 'created_at', 'updated_at'],
};

/** Throws SinkSchemaError naming the first missing table, or every missing column of a table. */
export async function checkSiteSchema(conn: Conn): Promise<void> {
  const [dbRows] = await conn.query('SELECT DATABASE() AS db');
  const db = (dbRows as Array<{ db: string | null }>)[0]?.db;
  if (db == null) throw new SinkSchemaError('unit3d writer: the site URL names no database (mysql://user@host/DATABASE)');
  const tables = Object.keys(WRITTEN_COLUMNS);
  const [rows] = await conn.query(
    'SELECT LOWER(table_name) AS t, LOWER(column_name) AS c FROM information_schema.columns WHERE table_schema = DATABASE() AND LOWER(table_name) IN (?)',
    [tables]);
  const have = new Map<string, Set<string>>();
  for (const r of rows as Array<{ t: string; c: string }>) {
    let cols = have.get(r.t);
    if (cols === undefined) have.set(r.t, (cols = new Set()));
    cols.add(r.c);
  }
  for (const table of tables) {
    const cols = have.get(table);
    if (cols === undefined) throw new SinkSchemaError(`unit3d writer: database "${db}" has no table \`${table}\`: is site.url the UNIT3D database?`);
    const missing = WRITTEN_COLUMNS[table]!.filter((c) => !cols.has(c));
    if (missing.length > 0) {
      throw new SinkSchemaError(`unit3d writer: table \`${table}\` in "${db}" has no column ${missing.map((c) => `\`${c}\``).join(', ')} (UNIT3D older than the v9 schema privtrak writes?)`);
    }
  }
}
