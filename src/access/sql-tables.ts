/**
 * privtrak's own registry tables, for sites that do not point the registry at their own
 * schema: created by `privtrak migrate`, written by `privtrak users …` / `privtrak torrents …`,
 * and read by the default queries. A site with its own schema (Gazelle's `users_main.torrent_pass`,
 * UNIT3D's `users.passkey`) writes its own queries instead and leaves these tables alone.
 *
 * Every write sets `updated_at`, so the incremental query sees it; removals are soft (`deleted`),
 * so the incremental query sees them too. Tombstones older than a week are purged on removal.
 */
import type { SqlDialect, SqlDriver, SqlRow } from './sql-driver.js';
import type { RegistryStore } from './store.js';
import { torrentFromRow, userFromRow, type TorrentRecord, type UserRecord } from './records.js';

export const DEFAULT_USERS_TABLE = 'privtrak_users';
export const DEFAULT_TORRENTS_TABLE = 'privtrak_torrents';

export interface DefaultQueries {
  users: string;
  users_changed: string;
  torrents: string;
  torrents_changed: string;
}

/** The queries used when the config names none: they read privtrak's own tables. */
export function defaultQueries(usersTable: string, torrentsTable: string): DefaultQueries {
  // `>=`, not `>`: a row written in the same instant as the last one seen is read again rather than missed.
  return {
    users: `SELECT passkey, site_id, enabled, can_leech, updated_at FROM ${usersTable} WHERE NOT deleted`,
    users_changed: `SELECT passkey, site_id, enabled, can_leech, deleted, updated_at FROM ${usersTable} WHERE updated_at >= :since`,
    torrents: `SELECT info_hash, site_id, banned, download_multiplier, upload_multiplier, updated_at FROM ${torrentsTable} WHERE NOT deleted`,
    torrents_changed: `SELECT info_hash, site_id, banned, download_multiplier, upload_multiplier, deleted, updated_at FROM ${torrentsTable} WHERE updated_at >= :since`,
  };
}

const NOW: Record<SqlDialect, string> = { postgres: 'clock_timestamp()', mysql: 'NOW(3)' };

function indexName(table: string, suffix: string): string {
  return `${table.slice(table.lastIndexOf('.') + 1)}_${suffix}`;
}

export function createTableStatements(dialect: SqlDialect, usersTable: string, torrentsTable: string): string[] {
  if (dialect === 'postgres') {
    return [
      `CREATE TABLE IF NOT EXISTS ${usersTable} (
        passkey char(32) PRIMARY KEY CHECK (passkey ~ '^[0-9a-f]{32}$'),
        site_id bigint,
        enabled boolean NOT NULL DEFAULT true,
        can_leech boolean NOT NULL DEFAULT true,
        deleted boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
      `CREATE INDEX IF NOT EXISTS ${indexName(usersTable, 'updated_at')} ON ${usersTable} (updated_at)`,
      `CREATE TABLE IF NOT EXISTS ${torrentsTable} (
        info_hash bytea PRIMARY KEY CHECK (length(info_hash) = 20),
        site_id bigint,
        banned boolean NOT NULL DEFAULT false,
        download_multiplier double precision,
        upload_multiplier double precision,
        deleted boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
      `CREATE INDEX IF NOT EXISTS ${indexName(torrentsTable, 'updated_at')} ON ${torrentsTable} (updated_at)`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${usersTable} (
      passkey CHAR(32) CHARACTER SET ascii NOT NULL PRIMARY KEY,
      site_id BIGINT UNSIGNED NULL,
      enabled BOOLEAN NOT NULL DEFAULT TRUE,
      can_leech BOOLEAN NOT NULL DEFAULT TRUE,
      deleted BOOLEAN NOT NULL DEFAULT FALSE,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      KEY ${indexName(usersTable, 'updated_at')} (updated_at))`,
    `CREATE TABLE IF NOT EXISTS ${torrentsTable} (
      info_hash BINARY(20) NOT NULL PRIMARY KEY,
      site_id BIGINT UNSIGNED NULL,
      banned BOOLEAN NOT NULL DEFAULT FALSE,
      download_multiplier DOUBLE NULL,
      upload_multiplier DOUBLE NULL,
      deleted BOOLEAN NOT NULL DEFAULT FALSE,
      updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
      KEY ${indexName(torrentsTable, 'updated_at')} (updated_at))`,
  ];
}

/** Rows per multi-row INSERT in a bulk import. */
const CHUNK = 500;

/** The RegistryStore over privtrak's own tables (PostgreSQL or MySQL/MariaDB). */
export class SqlStore implements RegistryStore {
  private readonly now: string;

  constructor(private readonly db: SqlDriver, private readonly usersTable: string, private readonly torrentsTable: string) {
    this.now = NOW[db.dialect];
  }

  private p(n: number): string {
    return this.db.dialect === 'postgres' ? `$${n}` : '?';
  }

  async migrate(): Promise<void> {
    for (const sql of createTableStatements(this.db.dialect, this.usersTable, this.torrentsTable)) await this.db.query(sql);
  }

  private upsertSql(table: string, columns: string[], key: string, rows: number): string {
    let n = 0;
    const values = Array.from({ length: rows }, () => `(${columns.map(() => this.p(++n)).join(', ')}, false, ${this.now})`).join(', ');
    const head = `INSERT INTO ${table} (${columns.join(', ')}, deleted, updated_at) VALUES ${values}`;
    const rest = columns.filter((c) => c !== key);
    if (this.db.dialect === 'postgres') {
      return `${head} ON CONFLICT (${key}) DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, deleted = false, updated_at = ${this.now}`;
    }
    return `${head} ON DUPLICATE KEY UPDATE ${rest.map((c) => `${c} = VALUES(${c})`).join(', ')}, deleted = false, updated_at = ${this.now}`;
  }

  async putUsers(users: readonly UserRecord[], written?: (users: number) => void): Promise<{ added: number; replaced: number }> {
    const cols = ['passkey', 'site_id', 'enabled', 'can_leech'];
    return this.db.transaction(async (q) => {
      let replaced = 0;
      for (let i = 0; i < users.length; i += CHUNK) {
        const chunk = users.slice(i, i + CHUNK);
        const keys = chunk.map((u) => u.passkey);
        const existing = await q(`SELECT passkey FROM ${this.usersTable} WHERE NOT deleted AND passkey IN (${keys.map((_, j) => this.p(j + 1)).join(', ')})`, keys);
        replaced += existing.length;
        await q(this.upsertSql(this.usersTable, cols, 'passkey', chunk.length), chunk.flatMap((u) => [u.passkey, u.siteId, u.enabled, u.canLeech]));
        written?.(chunk.length);
      }
      return { added: users.length - replaced, replaced };
    });
  }

  async setUserEnabled(passkey: string, enabled: boolean): Promise<UserRecord | undefined> {
    return this.db.transaction(async (q) => {
      const rows = await q(`SELECT passkey, site_id, enabled, can_leech FROM ${this.usersTable} WHERE passkey = ${this.p(1)} AND NOT deleted`, [passkey]);
      if (rows.length === 0) return undefined;
      await q(`UPDATE ${this.usersTable} SET enabled = ${this.p(1)}, updated_at = ${this.now} WHERE passkey = ${this.p(2)}`, [enabled, passkey]);
      return { ...userFromRow(rows[0]!), enabled };
    });
  }

  async removeUser(passkey: string): Promise<boolean> {
    return this.softDelete(this.usersTable, 'passkey', passkey);
  }

  async putTorrent(t: TorrentRecord): Promise<void> {
    const cols = ['info_hash', 'site_id', 'banned', 'download_multiplier', 'upload_multiplier'];
    await this.db.query(this.upsertSql(this.torrentsTable, cols, 'info_hash', 1),
      [Buffer.from(t.key, 'latin1'), t.siteId, t.banned, t.downloadMultiplier, t.uploadMultiplier]);
  }

  async removeTorrent(key: string): Promise<boolean> {
    return this.softDelete(this.torrentsTable, 'info_hash', Buffer.from(key, 'latin1'));
  }

  async listTorrents(): Promise<TorrentRecord[]> {
    const rows = await this.db.query(`SELECT info_hash, site_id, banned, download_multiplier, upload_multiplier FROM ${this.torrentsTable} WHERE NOT deleted ORDER BY site_id, info_hash`);
    return rows.map((r: SqlRow) => torrentFromRow(r));
  }

  private async softDelete(table: string, key: string, value: unknown): Promise<boolean> {
    const week = this.db.dialect === 'postgres' ? `clock_timestamp() - interval '7 days'` : 'NOW(3) - INTERVAL 7 DAY';
    return this.db.transaction(async (q) => {
      const rows = await q(`SELECT ${key} FROM ${table} WHERE ${key} = ${this.p(1)} AND NOT deleted`, [value]);
      if (rows.length === 0) return false;
      await q(`UPDATE ${table} SET deleted = true, updated_at = ${this.now} WHERE ${key} = ${this.p(1)}`, [value]);
      await q(`DELETE FROM ${table} WHERE deleted AND updated_at < ${week}`);
      return true;
    });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
