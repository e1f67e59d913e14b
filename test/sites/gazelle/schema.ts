/**
 * Gazelle's tables as the tests create them: written from the column lists in
 * ../shared/sites/README.md B.4 (OPS Gazelle's phinx migrations, Ocelot's gazelle.sql). OPS keeps
 * the counters in users_leech_stats / torrents_leech_stats; WhatCD's Gazelle keeps them in
 * users_main / torrents (`schema: whatcd`). Not a copy of either DDL: the types, keys and
 * defaults are what matter to privtrak.
 */
export type GazelleSchema = 'ops' | 'whatcd';

export const GAZELLE_TABLES = ['xbt_snatched', 'xbt_files_users', 'xbt_client_whitelist', 'users_freeleeches', 'torrents_leech_stats',
  'users_leech_stats', 'torrents', 'users_main'];

export function gazelleDdl(schema: GazelleSchema = 'ops'): string[] {
  const whatcd = schema === 'whatcd';
  return [
    `CREATE TABLE users_main (
      ID int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
      Username varchar(20) NOT NULL UNIQUE,
      Email varchar(255) NOT NULL DEFAULT '',
      PassHash varchar(60) NOT NULL DEFAULT '',
      IP varchar(15) NOT NULL DEFAULT '0.0.0.0',
      Enabled enum('0','1','2') NOT NULL DEFAULT '0',
      Visible enum('1','0') NOT NULL DEFAULT '1',
      torrent_pass char(32) NOT NULL,
      can_leech tinyint NOT NULL DEFAULT 1,
      ${whatcd ? 'Uploaded bigint unsigned NOT NULL DEFAULT 0, Downloaded bigint unsigned NOT NULL DEFAULT 0,' : ''}
      KEY torrent_pass (torrent_pass)
    ) ENGINE=InnoDB`,
    ...(whatcd ? [] : [`CREATE TABLE users_leech_stats (
      UserID int unsigned NOT NULL PRIMARY KEY,
      Uploaded bigint unsigned NOT NULL DEFAULT 0,
      Downloaded bigint unsigned NOT NULL DEFAULT 0,
      CONSTRAINT uls_user_fk FOREIGN KEY (UserID) REFERENCES users_main (ID) ON DELETE CASCADE
    ) ENGINE=InnoDB`]),
    `CREATE TABLE torrents (
      ID int NOT NULL AUTO_INCREMENT PRIMARY KEY,
      GroupID int NOT NULL DEFAULT 0,
      UserID int unsigned NULL,
      info_hash blob NOT NULL,
      FreeTorrent enum('0','1','2') NOT NULL DEFAULT '0',
      Size bigint NOT NULL DEFAULT 0,
      Time datetime NULL,
      ${whatcd ? `Seeders int unsigned NOT NULL DEFAULT 0, Leechers int unsigned NOT NULL DEFAULT 0, Snatched int unsigned NOT NULL DEFAULT 0,
      Balance bigint NOT NULL DEFAULT 0, last_action datetime NULL,` : ''}
      UNIQUE KEY InfoHash (info_hash(40))
    ) ENGINE=InnoDB`,
    ...(whatcd ? [] : [`CREATE TABLE torrents_leech_stats (
      TorrentID int NOT NULL PRIMARY KEY,
      Seeders int unsigned NOT NULL DEFAULT 0,
      Leechers int unsigned NOT NULL DEFAULT 0,
      Snatched int unsigned NOT NULL DEFAULT 0,
      Balance bigint NOT NULL DEFAULT 0,
      last_action datetime NULL,
      CONSTRAINT tls_torrent_fk FOREIGN KEY (TorrentID) REFERENCES torrents (ID) ON DELETE CASCADE
    ) ENGINE=InnoDB`]),
    `CREATE TABLE users_freeleeches (
      UserID int NOT NULL,
      TorrentID int NOT NULL,
      Time datetime NOT NULL,
      Expired tinyint(1) NOT NULL DEFAULT 0,
      Downloaded bigint NOT NULL DEFAULT 0,
      Uses int NOT NULL DEFAULT 1,
      PRIMARY KEY (UserID, TorrentID)
    ) ENGINE=InnoDB`,
    `CREATE TABLE xbt_client_whitelist (
      id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
      peer_id varchar(20) NULL UNIQUE,
      vstring varchar(200) NULL DEFAULT ''
    ) ENGINE=InnoDB`,
    `CREATE TABLE xbt_files_users (
      uid int NOT NULL,
      fid int NOT NULL,
      active tinyint(1) NOT NULL DEFAULT 1,
      announced int NOT NULL DEFAULT 0,
      completed tinyint(1) NOT NULL DEFAULT 0,
      downloaded bigint NOT NULL DEFAULT 0,
      remaining bigint NOT NULL DEFAULT 0,
      uploaded bigint NOT NULL DEFAULT 0,
      upspeed int unsigned NOT NULL DEFAULT 0,
      downspeed int unsigned NOT NULL DEFAULT 0,
      corrupt bigint NOT NULL DEFAULT 0,
      timespent int unsigned NOT NULL DEFAULT 0,
      useragent varchar(51) NOT NULL DEFAULT '',
      connectable tinyint NOT NULL DEFAULT 1,
      peer_id binary(20) NOT NULL DEFAULT '00000000000000000000',
      mtime int NOT NULL DEFAULT 0,
      ip varchar(15) NOT NULL DEFAULT '',
      PRIMARY KEY (peer_id, fid, uid),
      KEY remaining_idx (remaining),
      KEY fid_idx (fid),
      KEY mtime_idx (mtime)
    ) ENGINE=InnoDB`,
    `CREATE TABLE xbt_snatched (
      uid int NOT NULL DEFAULT 0,
      tstamp int NOT NULL,
      fid int NOT NULL,
      IP varchar(15) NOT NULL,
      seedtime int unsigned NOT NULL DEFAULT 0,
      KEY fid (fid),
      KEY tstamp (tstamp),
      KEY uid_tstamp (uid, tstamp)
    ) ENGINE=InnoDB`,
  ];
}

/** Strict SQL mode, as Gazelle's own connection and MariaDB's default run. */
export const STRICT_MODE = "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";
