/**
 * Where the access registry's data comes from. A source loads everything at start-up and is
 * then asked to refresh on its own interval; it answers with what changed. The registry keeps
 * serving its last good copy whenever a refresh throws.
 */
import type { TorrentRecord, UserRecord } from './records.js';
import type { RegistryStore } from './store.js';

/** What a load or refresh found. Absent fields mean "no news" for that part. */
export interface RegistryUpdate {
  /** Complete lists that replace the current ones. */
  allUsers?: UserRecord[];
  allTorrents?: TorrentRecord[];
  /** Rows added or changed since the last refresh (incremental). */
  users?: readonly UserRecord[];
  torrents?: readonly TorrentRecord[];
  /** Keys removed since the last refresh (passkeys; torrent keys as in torrentKey()). */
  removedUsers?: string[];
  removedTorrents?: string[];
  /** Rows the source skipped because they were invalid (SQL sources), with the first reason. */
  rejected?: { count: number; first: string };
  /**
   * The source has newer content than this refresh could read (a file written while it was read):
   * not a failure, the next refresh takes it, but the copy in use is not current, so the
   * registry's age (privtrak_registry_age_seconds, the "registry stale" alerts) keeps growing.
   */
  behind?: true;
}

export interface RegistrySource {
  readonly name: 'file' | 'postgres' | 'mysql';
  /** How often refresh() is called, ms. */
  readonly refreshIntervalMs: number;
  /** Reads everything (start-up). Throws when the source is unreachable or invalid. */
  load(): Promise<RegistryUpdate>;
  /** Reads what changed; throws on failure (counted; the last good copy stays in use). */
  refresh(): Promise<RegistryUpdate>;
  /**
   * Present when admin changes can be written to the source itself (the file source):
   * they then persist. Absent (SQL sources): admin changes are an in-memory overlay.
   */
  readonly store?: RegistryStore;
  close(): Promise<void>;
}
