/**
 * UNIT3D's tables as the tests create them: written from the column lists of UNIT3D v9.2.0's
 * `database/schema/mysql-schema.sql` (../shared/sites/README.md A.8), the columns the announce
 * server reads and writes plus the NOT NULL ones without a default that make strict mode bite.
 * Not a copy of UNIT3D's DDL: what matters to privtrak is the types, keys and defaults.
 */
export const UNIT3D_TABLES = ['announces', 'unregistered_info_hashes', 'peers', 'history', 'featured_torrents', 'personal_freeleeches',
  'freeleech_tokens', 'blacklist_clients', 'torrents', 'users', 'groups'];

export const UNIT3D_DDL: string[] = [
  `CREATE TABLE \`groups\` (
    id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name varchar(255) NOT NULL,
    slug varchar(255) NOT NULL UNIQUE,
    position int NOT NULL DEFAULT 0,
    download_slots int NULL,
    is_immune tinyint(1) NOT NULL DEFAULT 0,
    is_freeleech tinyint(1) NOT NULL DEFAULT 0,
    is_double_upload tinyint(1) NOT NULL DEFAULT 0
  ) ENGINE=InnoDB`,
  `CREATE TABLE users (
    id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username varchar(255) NOT NULL UNIQUE,
    email varchar(255) NOT NULL,
    password varchar(255) NOT NULL,
    passkey varchar(255) NOT NULL UNIQUE,
    group_id int NOT NULL,
    uploaded bigint unsigned NOT NULL DEFAULT 0,
    downloaded bigint unsigned NOT NULL DEFAULT 0,
    fl_tokens int unsigned NOT NULL DEFAULT 0,
    seedbonus decimal(12,2) NOT NULL DEFAULT 0,
    hitandruns int unsigned NOT NULL DEFAULT 0,
    rsskey varchar(255) NOT NULL UNIQUE,
    can_download tinyint(1) NOT NULL DEFAULT 1,
    is_donor tinyint(1) NOT NULL DEFAULT 0,
    is_lifetime tinyint(1) NOT NULL DEFAULT 0,
    last_action datetime NULL,
    disabled_at datetime NULL,
    deleted_at timestamp NULL,
    own_flushes tinyint NOT NULL DEFAULT 2,
    created_at timestamp NULL,
    updated_at timestamp NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE torrents (
    id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name varchar(255) NOT NULL,
    description text NOT NULL,
    info_hash binary(20) NOT NULL,
    file_name varchar(255) NOT NULL,
    num_file int NOT NULL,
    size double NOT NULL,
    leechers int NOT NULL DEFAULT 0,
    seeders int NOT NULL DEFAULT 0,
    times_completed int NOT NULL DEFAULT 0,
    user_id int unsigned NOT NULL,
    free smallint NOT NULL DEFAULT 0,
    doubleup tinyint(1) NOT NULL DEFAULT 0,
    status smallint NOT NULL DEFAULT 0,
    fl_until datetime NULL,
    du_until datetime NULL,
    balance bigint NOT NULL DEFAULT 0,
    balance_offset bigint NOT NULL DEFAULT 0,
    balance_reset_at datetime NULL,
    deleted_at timestamp NULL,
    created_at timestamp NULL,
    updated_at timestamp NULL,
    KEY torrents_info_hash_index (info_hash)
  ) ENGINE=InnoDB`,
  `CREATE TABLE blacklist_clients (
    id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name varchar(255) NOT NULL UNIQUE,
    peer_id_prefix varchar(255) NOT NULL,
    reason text NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE freeleech_tokens (
    id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id int unsigned NOT NULL,
    torrent_id int unsigned NOT NULL,
    UNIQUE KEY (user_id, torrent_id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE personal_freeleeches (
    id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id int unsigned NOT NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE featured_torrents (
    id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id int unsigned NOT NULL,
    torrent_id int unsigned NOT NULL
  ) ENGINE=InnoDB`,
  `CREATE TABLE history (
    user_id int unsigned NOT NULL,
    torrent_id int unsigned NOT NULL,
    agent varchar(64) NOT NULL,
    uploaded bigint unsigned NOT NULL DEFAULT 0,
    actual_uploaded bigint unsigned NOT NULL DEFAULT 0,
    client_uploaded bigint unsigned NOT NULL,
    downloaded bigint unsigned NOT NULL DEFAULT 0,
    refunded_download bigint unsigned NOT NULL DEFAULT 0,
    actual_downloaded bigint unsigned NOT NULL DEFAULT 0,
    client_downloaded bigint unsigned NOT NULL,
    seeder tinyint(1) NOT NULL,
    active tinyint(1) NOT NULL DEFAULT 1,
    seedtime bigint unsigned NOT NULL DEFAULT 0,
    immune tinyint(1) NOT NULL,
    hitrun tinyint(1) NOT NULL DEFAULT 0,
    prewarned_at timestamp NULL,
    created_at timestamp NULL,
    updated_at timestamp NULL,
    deleted_at timestamp NULL,
    completed_at datetime NULL,
    PRIMARY KEY (user_id, torrent_id),
    CONSTRAINT history_torrent_fk FOREIGN KEY (torrent_id) REFERENCES torrents (id) ON DELETE CASCADE,
    CONSTRAINT history_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE peers (
    peer_id binary(20) NOT NULL,
    ip varbinary(16) NOT NULL,
    port smallint unsigned NOT NULL,
    agent varchar(64) NOT NULL,
    uploaded bigint unsigned NOT NULL,
    downloaded bigint unsigned NOT NULL,
    \`left\` bigint unsigned NOT NULL,
    seeder tinyint(1) NOT NULL,
    created_at timestamp NULL,
    updated_at timestamp NULL,
    torrent_id int unsigned NOT NULL,
    user_id int unsigned NOT NULL,
    connectable tinyint(1) NOT NULL DEFAULT 0,
    active tinyint(1) NOT NULL,
    visible tinyint(1) NOT NULL,
    PRIMARY KEY (user_id, torrent_id, peer_id),
    KEY peers_seeder_user_id_index (seeder, user_id),
    KEY peers_torrent_id_index (torrent_id),
    KEY peers_active_index (active)
  ) ENGINE=InnoDB`,
  `CREATE TABLE unregistered_info_hashes (
    user_id int unsigned NOT NULL,
    info_hash binary(20) NOT NULL,
    created_at timestamp NULL,
    updated_at timestamp NULL,
    PRIMARY KEY (info_hash, user_id)
  ) ENGINE=InnoDB`,
  `CREATE TABLE announces (
    id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id int unsigned NOT NULL,
    torrent_id int unsigned NOT NULL,
    uploaded bigint unsigned NOT NULL,
    downloaded bigint unsigned NOT NULL,
    \`left\` bigint unsigned NOT NULL,
    corrupt bigint unsigned NOT NULL,
    peer_id binary(20) NOT NULL,
    port smallint unsigned NOT NULL,
    numwant smallint unsigned NOT NULL,
    created_at timestamp NULL,
    event varchar(255) NOT NULL,
    \`key\` varchar(255) NOT NULL
  ) ENGINE=InnoDB`,
];

/** The strict SQL mode UNIT3D's Laravel connection runs with (config/database.php `strict => true`). */
export const STRICT_MODE = "SET SESSION sql_mode = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";
