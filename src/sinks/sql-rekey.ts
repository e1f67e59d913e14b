/**
 * Rekeying a SQL sink's legacy rows (schema 1: user_id was the passkey's 16 bytes) to user keys,
 * for `privtrak migrate` (accounting/legacy-data.ts). The caller runs these inside the
 * transaction that moves the schema version to 2, so it is all or nothing:
 *
 *   1. the distinct legacy user_ids (LEGACY_USERS_SQL), mapped in JS (mapAll: any unmapped key
 *      aborts before a row changes);
 *   2. the mapping into a temporary table privtrak_rekey (old_id → new_id);
 *   3. each totals table rebuilt from itself grouped by the new key: two old passkeys of one user
 *      become one row whose totals are the sums (snatched and last seen: the max; first seen: the
 *      min); the delta log keeps its rows with their user_id replaced.
 */
type Dialect = 'sqlite' | 'postgres';

export const LEGACY_USERS_SQL = `SELECT user_id FROM privtrak_user_stats UNION SELECT user_id FROM privtrak_torrent_stats
  UNION SELECT user_id FROM privtrak_delta_log`;

const TORRENT_SUMS = ['uploaded', 'downloaded', 'raw_uploaded', 'raw_downloaded', 'seed_time', 'leech_time'];

export function rekeyMapTableSql(dialect: Dialect): string {
  const bin = dialect === 'sqlite' ? 'BLOB' : 'BYTEA';
  return `CREATE TEMP TABLE privtrak_rekey (old_id ${bin} PRIMARY KEY, new_id ${bin} NOT NULL)`;
}

/** Statements that rebuild the tables from privtrak_rekey (step 3), in order. */
export function rekeyStatements(dialect: Dialect): string[] {
  const int = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const sum = (c: string) => `CAST(sum(s.${c}) AS ${int}) AS ${c}`;
  const torrentCols = ['user_id', 'info_hash', ...TORRENT_SUMS, 'site_torrent_id', 'snatched', 'first_seen_ms', 'last_seen_ms'].join(', ');
  const userCols = ['user_id', ...TORRENT_SUMS, 'first_seen_ms', 'last_seen_ms'].join(', ');
  return [
    `CREATE TEMP TABLE privtrak_rekeyed_torrents AS
      SELECT m.new_id AS user_id, s.info_hash, ${TORRENT_SUMS.map(sum).join(', ')}, max(s.site_torrent_id) AS site_torrent_id,
        max(s.snatched) AS snatched, min(s.first_seen_ms) AS first_seen_ms, max(s.last_seen_ms) AS last_seen_ms
      FROM privtrak_torrent_stats s JOIN privtrak_rekey m ON m.old_id = s.user_id GROUP BY m.new_id, s.info_hash`,
    `DELETE FROM privtrak_torrent_stats`,
    `INSERT INTO privtrak_torrent_stats (${torrentCols}) SELECT ${torrentCols} FROM privtrak_rekeyed_torrents`,
    `DROP TABLE privtrak_rekeyed_torrents`,
    `CREATE TEMP TABLE privtrak_rekeyed_users AS
      SELECT m.new_id AS user_id, ${TORRENT_SUMS.map(sum).join(', ')}, min(s.first_seen_ms) AS first_seen_ms, max(s.last_seen_ms) AS last_seen_ms
      FROM privtrak_user_stats s JOIN privtrak_rekey m ON m.old_id = s.user_id GROUP BY m.new_id`,
    `DELETE FROM privtrak_user_stats`,
    `INSERT INTO privtrak_user_stats (${userCols}) SELECT ${userCols} FROM privtrak_rekeyed_users`,
    `DROP TABLE privtrak_rekeyed_users`,
    `UPDATE privtrak_delta_log SET user_id = (SELECT m.new_id FROM privtrak_rekey m WHERE m.old_id = privtrak_delta_log.user_id)`,
    `DROP TABLE privtrak_rekey`,
  ];
}
