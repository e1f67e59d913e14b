/**
 * The access registry: users and torrents in memory, for O(1) look-ups on the announce path.
 * It is built once per tracker and shared by the hooks that need it (user_approval,
 * torrent_approval, freeleech) through HookDeps; the database or file behind it is never
 * read per announce.
 *
 * Data flow: the source loads everything at start-up, then refreshes on its interval. A refresh
 * that throws is counted and logged, and the last good copy stays in use (its age is exported
 * as privtrak_registry_age_seconds).
 *
 * Admin changes (the admin API) take effect at once. With a writable source (the file source)
 * they are written to the file and persist. With a SQL source the site's database stays the
 * source of truth: changes are held in an in-memory overlay on top of the database copy, until
 * the database's own row for that user or torrent changes (a refresh brings a row different
 * from the one the change was made over), or the tracker restarts.
 */
import type { Logger } from 'pino';
import type { Registry as PrometheusRegistry } from 'prom-client';
import { sameTorrent, sameUser, type TorrentRecord, type UserRecord } from './records.js';
import type { RegistrySource, RegistryUpdate } from './source.js';
import { RegistryMetrics, type RegistryStatus } from './metrics.js';
import { performance } from 'node:perf_hooks';
import { WorkSlicer } from '../work-slicer.js';
import { RecordIndex, passkeyWords, torrentKeyWords } from '../record-index.js';

/** What the registry keeps its records in: a RecordIndex, read through its string keys here. */
interface Records<T> {
  get(key: string): T | undefined;
  set(key: string, value: T): void;
  delete(key: string): boolean;
}

const newUsers = (expected?: number): RecordIndex<UserRecord> => new RecordIndex(16, passkeyWords, expected);
const newTorrents = (expected?: number): RecordIndex<TorrentRecord> => new RecordIndex(20, torrentKeyWords, expected);

/** An admin change held over the source's copy: `value` (undefined = removed) over `base`. */
interface Override<T> {
  readonly value: T | undefined;
  /** The source's record when the change was made; the override stands while the source still says this. */
  readonly base: T | undefined;
}

export interface AccessRegistryDeps {
  readonly logger: Logger;
  readonly prometheus: PrometheusRegistry;
  readonly now?: () => number;
}

export class AccessRegistry {
  // By key bytes, not in Maps keyed by strings: the announce path's two lookups (record-index.ts).
  private users = newUsers();
  private torrents = newTorrents();
  private readonly userOverrides = new Map<string, Override<UserRecord>>();
  private readonly torrentOverrides = new Map<string, Override<TorrentRecord>>();
  private readonly metrics: RegistryMetrics;
  private readonly logger: Logger;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private refreshing: Promise<boolean> | undefined;
  /** Admin changes made while a full list is being indexed (apply), to replay onto it. */
  private userReplay: Array<[string, UserRecord | undefined]> | undefined;
  private torrentReplay: Array<[string, TorrentRecord | undefined]> | undefined;
  /** Epoch ms of the last successful load or refresh. */
  lastSuccessMs = 0;

  constructor(readonly source: RegistrySource, deps: AccessRegistryDeps) {
    this.logger = deps.logger.child({ registry: source.name });
    this.now = deps.now ?? Date.now;
    this.metrics = new RegistryMetrics(deps.prometheus, () => this.status(), this.now);
  }

  /** The user with this passkey (32 hex characters, any case), or undefined. */
  user(passkey: string): UserRecord | undefined {
    return this.users.get(passkey); // the index reads hex in either case
  }

  /** The torrent with this info_hash, or undefined. */
  torrent(infoHash: Buffer): TorrentRecord | undefined {
    return this.torrents.getBytes(infoHash);
  }

  /** The torrent by key (latin1 of the info_hash, see torrentKey()). */
  torrentByKey(key: string): TorrentRecord | undefined {
    return this.torrents.get(key);
  }

  status(): RegistryStatus & { overrides: number } {
    return {
      source: this.source.name, lastSuccessMs: this.lastSuccessMs, users: this.users.size, torrents: this.torrents.size,
      overrides: this.userOverrides.size + this.torrentOverrides.size,
    };
  }

  /** Loads everything; throws if the source cannot be read (the tracker then does not start). */
  async start(): Promise<void> {
    const started = performance.now();
    const update = await this.source.load();
    await this.apply(update);
    this.lastSuccessMs = this.now();
    this.metrics.refreshes.labels('full').inc();
    this.metrics.refreshSeconds.labels('full').observe((performance.now() - started) / 1000);
    this.logger.info({ users: this.users.size, torrents: this.torrents.size }, 'access registry loaded');
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.refreshing;
    await this.source.close();
  }

  private schedule(): void {
    if (!this.running) return;
    // A timeout chain, not an interval: a slow refresh never overlaps the next one.
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, this.source.refreshIntervalMs);
    this.timer.unref();
  }

  /** Refreshes now (also used by tests and the timer). Resolves true on success; never rejects. */
  refresh(): Promise<boolean> {
    const started = performance.now();
    this.refreshing ??= this.source.refresh().then(
      async (update) => {
        const kind = await this.apply(update);
        // A source that could not read its newest content (update.behind) leaves the age running.
        if (update.behind !== true) this.lastSuccessMs = this.now();
        this.metrics.refreshes.labels(kind).inc();
        this.metrics.refreshSeconds.labels(kind).observe((performance.now() - started) / 1000);
        return true;
      },
      (err: unknown) => {
        this.metrics.refreshFailures.inc();
        this.logger.warn({ err: errText(err), ageSeconds: Math.round((this.now() - this.lastSuccessMs) / 1000) },
          'access registry refresh failed: serving the last good copy');
        return false;
      },
    ).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /**
   * Applies a source update, keeping admin overrides whose base the source has not changed.
   * A full list is indexed over several event-loop turns (the tracker serves from the current
   * copy meanwhile) and swapped in at once; admin changes made while it was being built are
   * replayed onto it first, so none is lost.
   */
  private async apply(u: RegistryUpdate): Promise<'full' | 'incremental' | 'unchanged'> {
    let kind: 'full' | 'incremental' | 'unchanged' = 'unchanged';
    if (u.allUsers) {
      this.userReplay = [];
      const next = await replaceAll(u.allUsers, newUsers(u.allUsers.length), (r) => r.passkey, this.userOverrides, sameUser);
      replay(next, this.userReplay);
      this.userReplay = undefined;
      this.users = next;
      kind = 'full';
    }
    if (u.allTorrents) {
      this.torrentReplay = [];
      const next = await replaceAll(u.allTorrents, newTorrents(u.allTorrents.length), (r) => r.key, this.torrentOverrides, sameTorrent);
      replay(next, this.torrentReplay);
      this.torrentReplay = undefined;
      this.torrents = next;
      kind = 'full';
    }
    if (u.users?.length || u.removedUsers?.length) {
      applyChanges(this.users, u.users ?? [], u.removedUsers ?? [], (r) => r.passkey, this.userOverrides, sameUser);
      if (kind === 'unchanged') kind = 'incremental';
    }
    if (u.torrents?.length || u.removedTorrents?.length) {
      applyChanges(this.torrents, u.torrents ?? [], u.removedTorrents ?? [], (r) => r.key, this.torrentOverrides, sameTorrent);
      if (kind === 'unchanged') kind = 'incremental';
    }
    if (u.rejected && u.rejected.count > 0) {
      this.metrics.rowsRejected.inc(u.rejected.count);
      this.logger.warn({ rejected: u.rejected.count, first: u.rejected.first }, 'access registry: invalid rows skipped');
    }
    return kind;
  }

  // --- admin changes: effective at once ---

  async putUser(user: UserRecord): Promise<void> {
    if (this.source.store) await this.source.store.putUsers([user]);
    this.changeUser(user.passkey, user);
  }

  /** Returns the updated user, or undefined if the passkey is unknown. */
  async setUserEnabled(passkey: string, enabled: boolean): Promise<UserRecord | undefined> {
    // Found in either case, changed under the record's own (lower-case) key, as sources and overrides keep it.
    const current = this.users.get(passkey);
    if (current === undefined) return undefined;
    const next: UserRecord = { ...current, enabled };
    if (this.source.store) await this.source.store.setUserEnabled(current.passkey, enabled);
    this.changeUser(current.passkey, next);
    return next;
  }

  async removeUser(passkey: string): Promise<boolean> {
    const current = this.users.get(passkey);
    if (current === undefined) return false;
    if (this.source.store) await this.source.store.removeUser(current.passkey);
    this.changeUser(current.passkey, undefined);
    return true;
  }

  async putTorrent(torrent: TorrentRecord): Promise<void> {
    if (this.source.store) await this.source.store.putTorrent(torrent);
    this.changeTorrent(torrent.key, torrent);
  }

  async removeTorrent(key: string): Promise<boolean> {
    if (!this.torrents.has(key)) return false;
    if (this.source.store) await this.source.store.removeTorrent(key);
    this.changeTorrent(key, undefined);
    return true;
  }

  private changeUser(passkey: string, value: UserRecord | undefined): void {
    // A writable source now holds the change itself: no override needed, but a full list being
    // indexed was read before it, so the change is replayed onto it. (Overrides, kept for the
    // other sources, are applied to a new list anyway.)
    if (this.source.store) this.userReplay?.push([passkey, value]);
    else override(this.userOverrides, passkey, value, this.users.get(passkey));
    if (value === undefined) this.users.delete(passkey);
    else this.users.set(passkey, value);
  }

  private changeTorrent(key: string, value: TorrentRecord | undefined): void {
    if (this.source.store) this.torrentReplay?.push([key, value]);
    else override(this.torrentOverrides, key, value, this.torrents.get(key));
    if (value === undefined) this.torrents.delete(key);
    else this.torrents.set(key, value);
  }
}

function override<T>(overrides: Map<string, Override<T>>, key: string, value: T | undefined, current: T | undefined): void {
  const existing = overrides.get(key);
  // The base stays the source's record from before the first change.
  overrides.set(key, { value, base: existing ? existing.base : current });
}

async function replaceAll<T, R extends Records<T>>(
  rows: readonly T[], next: R, keyOf: (r: T) => string, overrides: Map<string, Override<T>>,
  same: (a: T | undefined, b: T | undefined) => boolean,
): Promise<R> {
  // Indexed in slices of event-loop time (work-slicer.ts) into `next`, new and empty: the copy
  // in use answers meanwhile.
  const slicer = new WorkSlicer();
  for (const r of rows) {
    next.set(keyOf(r), r);
    if (slicer.due()) await slicer.nextTurn();
  }
  // From here to the swap in apply(), nothing yields: the overrides and the replay see every change.
  for (const [key, o] of overrides) {
    if (!same(next.get(key), o.base)) {
      overrides.delete(key); // the source changed this row since the admin change: the source wins
      continue;
    }
    if (o.value === undefined) next.delete(key);
    else next.set(key, o.value);
  }
  return next;
}

function replay<T>(map: Records<T>, changes: ReadonlyArray<[string, T | undefined]>): void {
  for (const [key, value] of changes) {
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  }
}

function applyChanges<T>(
  map: Records<T>, changed: readonly T[], removed: readonly string[], keyOf: (r: T) => string,
  overrides: Map<string, Override<T>>, same: (a: T | undefined, b: T | undefined) => boolean,
): void {
  for (const r of changed) {
    const key = keyOf(r);
    const o = overrides.get(key);
    if (o !== undefined && same(r, o.base)) continue; // unchanged at the source: the override stands
    overrides.delete(key);
    map.set(key, r);
  }
  for (const key of removed) {
    const o = overrides.get(key);
    if (o !== undefined && o.base === undefined) continue;
    overrides.delete(key);
    map.delete(key);
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
