/**
 * The sinks' SQL schema, shared by SQLite, PostgreSQL and MySQL/MariaDB (binary ids are BLOB /
 * BYTEA / VARBINARY).
 * `uploaded`/`downloaded` are credited bytes (after freeleech multipliers: what ratios count);
 * `raw_uploaded`/`raw_downloaded` what the clients reported; `site_torrent_id` the site's own
 * torrent ID when the torrent_approval registry has one.
 * Version 2: user_id is a user key (accounting/user-key.ts); version 1 held the passkey's bytes there
 * and is rekeyed by `privtrak migrate` (sql-rekey.ts). Byte counts are 64-bit integers (SQLite's
 * INTEGER is 64-bit, BIGINT elsewhere); totals are read back as bigint. MySQL needs bounded types
 * where the others take TEXT (a key column cannot be TEXT): `instance` is at most 64 characters
 * (its option says so), an IP at most 45; tables are InnoDB (transactions, row locks), and the
 * CHECKs are enforced by MariaDB 10.2+ and MySQL 8.0.16+. The CHECKs on id lengths make a malformed delta
 * fail its whole batch instead of storing a row no one can look up.
 * In SQLite the two totals tables are WITHOUT ROWID (SQLITE_CLUSTERED): their rows live in the
 * primary key's B-tree, where a rowid table keeps a second B-tree (the key's index) beside the rows,
 * so every upsert searched and wrote two. The SQLite sink's writer runs 12.6% fewer instructions per
 * delta (callgrind, BENCHMARKS.md), and the file holds each key once. A file written before is rebuilt so by the
 * SQLite sink when it opens it (sqlite-sink.ts); the layout is SQLite's own business, not a schema
 * version: PostgreSQL and MariaDB are not asked to migrate (InnoDB keeps rows in the key already).
 * Version 3 adds privtrak_fences (DeltaBatch.fence: the shared mode's drain lease tokens); a
 * version 2 database is upgraded by `privtrak migrate` (CREATE TABLE IF NOT EXISTS, nothing else
 * changes). LEGACY_SCHEMA_VERSION: below it, rows are keyed by passkeys and must be rekeyed.
 */
export const SCHEMA_VERSION = 3;
export const LEGACY_SCHEMA_VERSION = 2;

export type SqlDialect = 'sqlite' | 'postgres' | 'mysql';

/** How SQLite's totals tables end (see above). */
export const SQLITE_CLUSTERED = 'WITHOUT ROWID';
/** The tables that have it: the sink's upserts go there. */
export const SQLITE_CLUSTERED_TABLES = ['privtrak_torrent_stats', 'privtrak_user_stats'] as const;

export function schemaStatements(dialect: SqlDialect): string[] {
  const my = dialect === 'mysql';
  const bin = (n: number) => (dialect === 'sqlite' ? 'BLOB' : my ? `VARBINARY(${n})` : 'BYTEA');
  const int = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const text = (n: number) => (my ? `VARCHAR(${n})` : 'TEXT');
  const len = (col: string, n: number) => (dialect === 'postgres' ? `CHECK (octet_length(${col}) = ${n})` : `CHECK (length(${col}) = ${n})`);
  const engine = my ? ' ENGINE=InnoDB' : '';
  const clustered = dialect === 'sqlite' ? ` ${SQLITE_CLUSTERED}` : '';
  const tables = [
    `CREATE TABLE IF NOT EXISTS privtrak_schema_version (version INTEGER NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS privtrak_torrent_stats (
      user_id ${bin(16)} NOT NULL ${len('user_id', 16)},
      info_hash ${bin(20)} NOT NULL ${len('info_hash', 20)},
      uploaded ${int} NOT NULL DEFAULT 0,
      downloaded ${int} NOT NULL DEFAULT 0,
      raw_uploaded ${int} NOT NULL DEFAULT 0,
      raw_downloaded ${int} NOT NULL DEFAULT 0,
      site_torrent_id ${int},
      seed_time ${int} NOT NULL DEFAULT 0,
      leech_time ${int} NOT NULL DEFAULT 0,
      snatched INTEGER NOT NULL DEFAULT 0 CHECK (snatched IN (0, 1)),
      first_seen_ms ${int} NOT NULL,
      last_seen_ms ${int} NOT NULL,
      PRIMARY KEY (user_id, info_hash))${clustered}`,
    `CREATE TABLE IF NOT EXISTS privtrak_user_stats (
      user_id ${bin(16)} PRIMARY KEY ${len('user_id', 16)},
      uploaded ${int} NOT NULL DEFAULT 0,
      downloaded ${int} NOT NULL DEFAULT 0,
      raw_uploaded ${int} NOT NULL DEFAULT 0,
      raw_downloaded ${int} NOT NULL DEFAULT 0,
      seed_time ${int} NOT NULL DEFAULT 0,
      leech_time ${int} NOT NULL DEFAULT 0,
      first_seen_ms ${int} NOT NULL,
      last_seen_ms ${int} NOT NULL)${clustered}`,
    `CREATE TABLE IF NOT EXISTS privtrak_batches (
      instance ${text(64)} PRIMARY KEY,
      applied_through ${int} NOT NULL,
      applied_at_ms ${int} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS privtrak_delta_log (
      instance ${text(64)} NOT NULL,
      seq ${int} NOT NULL,
      user_id ${bin(16)} NOT NULL,
      info_hash ${bin(20)} NOT NULL,
      peer_id ${bin(20)} NOT NULL,
      ip ${text(45)} NOT NULL,
      port INTEGER NOT NULL,
      event ${text(9)} NOT NULL,
      uploaded ${int} NOT NULL,
      downloaded ${int} NOT NULL,
      left_bytes ${int} NOT NULL,
      delta_up ${int} NOT NULL,
      delta_down ${int} NOT NULL,
      credit_up ${int} NOT NULL,
      credit_down ${int} NOT NULL,
      site_torrent_id ${int},
      seed_time ${int} NOT NULL,
      leech_time ${int} NOT NULL,
      snatch INTEGER NOT NULL,
      flags INTEGER NOT NULL,
      time_ms ${int} NOT NULL,
      PRIMARY KEY (instance, seq))`,
    // One row per lease name: the highest fencing token that has written (sink.ts, DeltaBatch.fence).
    `CREATE TABLE IF NOT EXISTS privtrak_fences (
      name ${text(64)} PRIMARY KEY,
      token ${int} NOT NULL)`,
  ];
  return tables.map((sql) => sql + engine);
}

/**
 * The totals query of the SQL sinks (TotalsQuery): one row per user, or per user and torrent, in
 * byte order of the keys (BLOB, BYTEA and VARBINARY all compare bytewise). `param` is the dialect's
 * placeholder for the one user (`?` or `$1`).
 */
export function totalsSql(query: { readonly user?: Buffer; readonly byTorrent: boolean }, param: '?' | '$1'): string {
  const where = (col: string) => (query.user ? `WHERE ${col} = ${param}` : '');
  // PostgreSQL's snatched is an INTEGER column; as bigint it reads back like the counts.
  const snatched = param === '$1' ? 'snatched::bigint AS snatched' : 'snatched';
  return query.byTorrent
    ? `SELECT user_id, info_hash, uploaded, downloaded, raw_uploaded, raw_downloaded, site_torrent_id, seed_time, leech_time, ${snatched}
       FROM privtrak_torrent_stats ${where('user_id')} ORDER BY user_id, info_hash`
    : `SELECT u.user_id, u.uploaded, u.downloaded, u.raw_uploaded, u.raw_downloaded, u.seed_time, u.leech_time,
         (SELECT count(*) FROM privtrak_torrent_stats s WHERE s.user_id = u.user_id AND s.snatched > 0) AS snatched
       FROM privtrak_user_stats u ${where('u.user_id')} ORDER BY u.user_id`;
}
