/**
 * The write side of a registry source, used by the operator commands (`privtrak users …`,
 * `privtrak torrents …`) and, for the file source, by the admin API. The file store rewrites
 * the registry files atomically; the SQL stores write privtrak-owned tables (sql-tables.ts)
 * that the default queries read.
 */
import type { TorrentRecord, UserRecord } from './records.js';

export interface RegistryStore {
  /**
   * Adds users or replaces those with the same passkey. Returns how many were new. `written`
   * is told how many more are written as it goes (a million-row import reports progress).
   */
  putUsers(users: readonly UserRecord[], written?: (users: number) => void): Promise<{ added: number; replaced: number }>;
  /** Returns the updated user, or undefined if there is no such passkey. */
  setUserEnabled(passkey: string, enabled: boolean): Promise<UserRecord | undefined>;
  /** Returns false if there was no such user. */
  removeUser(passkey: string): Promise<boolean>;
  putTorrent(torrent: TorrentRecord): Promise<void>;
  /** `key` as in torrentKey(). Returns false if there was no such torrent. */
  removeTorrent(key: string): Promise<boolean>;
  listTorrents(): Promise<TorrentRecord[]>;
  close(): Promise<void>;
}
