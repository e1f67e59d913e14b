/**
 * The `postgres` and `mysql` registry sources: the site's own database, read with queries
 * from the config, so the site keeps its schema. Everything is loaded at start-up; then every
 * `refresh_interval` the "changed" queries fetch rows with `updated_at >= :since` (the highest
 * `updated_at` seen so far, as the database returned it — never the tracker's clock), and every
 * `full_reload_interval` the full queries run again (which also catches rows deleted without a
 * tombstone). A changed query set to "" means a full reload at every refresh.
 *
 * Column names the queries must return (use aliases):
 *   users:    passkey (32 hex or 16 bytes), [site_id], [enabled], [can_leech], [updated_at], [deleted]
 *   torrents: info_hash (20 bytes or 40 hex), [site_id], [banned], [download_multiplier], [upload_multiplier], [updated_at], [deleted]
 * A row that cannot be read (a malformed passkey, say) is skipped and counted, not fatal.
 */
import type { RegistrySource, RegistryUpdate } from './source.js';
import { compileSince, type SqlDriver, type SqlRow } from './sql-driver.js';
import { RecordError, normalizeInfoHash, normalizePasskey, toBool, torrentFromRow, torrentKey, userFromRow, type TorrentRecord, type UserRecord } from './records.js';
import { WorkSlicer } from '../work-slicer.js';

export interface SqlQueries {
  readonly users: string;
  /** "" = no incremental refresh for users. */
  readonly usersChanged: string;
  readonly torrents: string;
  readonly torrentsChanged: string;
}

export interface SqlSourceOptions {
  readonly refreshIntervalMs: number;
  readonly fullReloadIntervalMs: number;
  readonly queries: SqlQueries;
  readonly now?: () => number;
}

/** Orders watermark values as the database returned them: Dates, numbers, bigints, numeric or ISO strings. */
export function laterOf(a: unknown, b: unknown): unknown {
  if (a === undefined || a === null) return b;
  if (b === undefined || b === null) return a;
  if (a instanceof Date && b instanceof Date) return b.getTime() > a.getTime() ? b : a;
  if (typeof a === 'string' && typeof b === 'string') {
    if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(b) > BigInt(a) ? b : a;
    return b > a ? b : a;
  }
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return b > a ? b : a;
  return b;
}

interface Part<T> {
  readonly full: string;
  readonly changed: { sql: string; count: number } | undefined;
  /** Highest updated_at seen; undefined until a load returned one. */
  mark: unknown;
  lastFullMs: number;
  readonly read: (row: SqlRow) => T;
  readonly keyOf: (row: SqlRow) => string;
}

export class SqlSource implements RegistrySource {
  readonly refreshIntervalMs: number;
  private readonly users: Part<UserRecord>;
  private readonly torrents: Part<TorrentRecord>;
  private readonly now: () => number;

  constructor(readonly name: 'postgres' | 'mysql', private readonly db: SqlDriver, private readonly opts: SqlSourceOptions) {
    this.refreshIntervalMs = opts.refreshIntervalMs;
    this.now = opts.now ?? Date.now;
    const changed = (sql: string) => (sql === '' ? undefined : compileSince(sql, db.dialect));
    this.users = {
      full: opts.queries.users, changed: changed(opts.queries.usersChanged), mark: undefined, lastFullMs: 0,
      read: userFromRow, keyOf: (r) => normalizePasskey(r['passkey']),
    };
    this.torrents = {
      full: opts.queries.torrents, changed: changed(opts.queries.torrentsChanged), mark: undefined, lastFullMs: 0,
      read: torrentFromRow, keyOf: (r) => torrentKey(normalizeInfoHash(r['info_hash'])),
    };
  }

  async load(): Promise<RegistryUpdate> {
    const update: RegistryUpdate = {};
    const rejected = { count: 0, first: '' };
    update.allUsers = await this.loadFull(this.users, rejected);
    update.allTorrents = await this.loadFull(this.torrents, rejected);
    if (rejected.count > 0) update.rejected = rejected;
    return update;
  }

  async refresh(): Promise<RegistryUpdate> {
    const update: RegistryUpdate = {};
    const rejected = { count: 0, first: '' };
    if (this.needsFull(this.users)) update.allUsers = await this.loadFull(this.users, rejected);
    else [update.users, update.removedUsers] = await this.loadChanged(this.users, rejected);
    if (this.needsFull(this.torrents)) update.allTorrents = await this.loadFull(this.torrents, rejected);
    else [update.torrents, update.removedTorrents] = await this.loadChanged(this.torrents, rejected);
    if (rejected.count > 0) update.rejected = rejected;
    return update;
  }

  private needsFull<T>(part: Part<T>): boolean {
    return part.changed === undefined || part.mark === undefined || this.now() - part.lastFullMs >= this.opts.fullReloadIntervalMs;
  }

  private async loadFull<T>(part: Part<T>, rejected: { count: number; first: string }): Promise<T[]> {
    const rows = await this.db.query(part.full);
    const out: T[] = [];
    let mark: unknown;
    // Read in slices of event-loop time, as a file is (work-slicer.ts): the tracker serves meanwhile.
    const slicer = new WorkSlicer();
    for (const row of rows) {
      mark = laterOf(mark, row['updated_at']);
      const r = readRow(part, row, rejected);
      if (r !== undefined && !isDeleted(row)) out.push(r);
      if (slicer.due()) await slicer.nextTurn();
    }
    part.mark = mark;
    part.lastFullMs = this.now();
    return out;
  }

  private async loadChanged<T>(part: Part<T>, rejected: { count: number; first: string }): Promise<[T[], string[]]> {
    const changed = part.changed!;
    const rows = await this.db.query(changed.sql, Array.from({ length: changed.count }, () => part.mark));
    const out: T[] = [];
    const removed: string[] = [];
    let mark = part.mark;
    for (const row of rows) {
      mark = laterOf(mark, row['updated_at']);
      if (isDeleted(row)) {
        try {
          removed.push(part.keyOf(row));
        } catch (err) {
          reject(rejected, err);
        }
        continue;
      }
      const r = readRow(part, row, rejected);
      if (r !== undefined) out.push(r);
    }
    // Set only once the whole result was read: a failed refresh asks for the same rows again.
    part.mark = mark;
    return [out, removed];
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function isDeleted(row: SqlRow): boolean {
  try {
    return toBool(row['deleted'], 'deleted', false);
  } catch {
    return false;
  }
}

function readRow<T>(part: Part<T>, row: SqlRow, rejected: { count: number; first: string }): T | undefined {
  try {
    return part.read(row);
  } catch (err) {
    reject(rejected, err);
    return undefined;
  }
}

function reject(rejected: { count: number; first: string }, err: unknown): void {
  if (!(err instanceof RecordError)) throw err;
  if (rejected.count++ === 0) rejected.first = err.message;
}
