/**
 * The `file` registry source: a users file and a torrents file (YAML or CSV, file-format.ts),
 * polled for changes (mtime, size and inode, every `poll_interval`) and reloaded when they
 * change. Polling rather than fs.watch: editors and `privtrak users …` replace files by
 * renaming, which fs.watch loses track of on some platforms, and a stat per second is free.
 *
 * A file that fails to parse is refused as a whole — nothing half-applied — and the last good
 * copy stays in use until the file is fixed. A file missing at start-up counts as empty (with
 * a warning); a file that disappears later is a failure (last good copy kept).
 *
 * It is also a RegistryStore: the operator commands and the admin API rewrite the files
 * atomically under a lock file, so admin changes persist: a temporary file, fsynced, renamed
 * over the old one, then the directory fsynced — after a power loss the file is the old one or
 * the new one, never a mix, and an admin change that was answered is on disk.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RegistrySource, RegistryUpdate } from './source.js';
import { nodeFs, type DurableFs } from '../durable-fs.js';
import type { RegistryStore } from './store.js';
import type { TorrentRecord, UserRecord } from './records.js';
import { CsvLineMemo, type CsvChanges, formatOf, formatTorrentsFile, formatUsersFile, parseTorrentsFileInTurns, parseUsersFileInTurns } from './file-format.js';
import { WorkSlicer } from '../work-slicer.js';

export interface FileSourceOptions {
  /** Users file ("" = none: no user is known). */
  readonly users: string;
  /** Torrents file ("" = none). */
  readonly torrents: string;
  readonly pollIntervalMs: number;
  /** The file-system seam for the fsyncs of a write (tests record them). */
  readonly fs?: DurableFs;
}

interface Loaded<T> {
  /** Identity of the file content it was read from (inode, size, mtime); "" = missing. */
  readonly stamp: string;
  readonly records: Map<string, T>;
}

const stampOf = (s: Stats) => `${s.ino}:${s.size}:${s.mtimeMs}`;

async function stamp(path: string): Promise<string> {
  try {
    return stampOf(await fsp.stat(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** A content handed to the registry as what changed since the one before. */
interface ListChanges<T> {
  /** Records added or changed. */
  readonly changed: readonly T[];
  /** Keys no longer in the file. */
  readonly removed: string[];
}

/** What a poll found: nothing new (neither field), the whole list, or what changed since the last poll. */
interface PollResult<T> {
  readonly records?: T[];
  readonly changes?: ListChanges<T>;
  readonly behind: boolean;
}

/**
 * One list file. `loaded` caches the latest content read or written; `delivered` is the stamp
 * of the content last handed to the registry, so a poll reports each new content exactly once.
 *
 * A reload where the line memo (file-format.ts) says which lines changed updates `loaded` in
 * place and hands the registry only those (`lastChanges`), so neither side builds a new map of
 * every record: that garbage, promoted during the reload's slices, was what brought full
 * mark-compacts under load. Any other case (first load, new header, YAML, duplicate keys, a
 * write of ours in between, a content the registry has not seen) takes the whole list, as before.
 */
class ListFile<T> {
  private loaded: Loaded<T> | undefined;
  private delivered: string | undefined;
  /** The stamp of the content the memo was last parsed from. */
  private parsedStamp: string | undefined;
  /** How `loaded` differs from the content of stamp `from`, when it was made from it in place. */
  private lastChanges: (ListChanges<T> & { from: string; to: string }) | undefined;
  /** sync() calls run one after another: the memo takes one parse at a time. */
  private syncing: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly parse: (bytes: Buffer, path: string) => Promise<T[]>,
    private readonly format: (records: T[]) => string,
    private readonly keyOf: (r: T) => string,
    private readonly fs: DurableFs,
    /** What the last parse changed, when it knows (the CSV line memo's lastChanges). */
    private readonly parseChanges: () => CsvChanges<T> | undefined = () => undefined,
  ) {}

  private sync(missingOk: boolean): Promise<{ loaded: Loaded<T>; behind: boolean }> {
    const run = this.syncing.then(() => this.syncNow(missingOk));
    this.syncing = run.catch(() => undefined);
    return run;
  }

  /**
   * Re-reads the file if its stamp changed. `missingOk`: a missing file is empty; otherwise an error.
   * `behind`: the copy was kept because the file changed while it was read (RegistryUpdate.behind).
   */
  private async syncNow(missingOk: boolean): Promise<{ loaded: Loaded<T>; behind: boolean }> {
    const before = await stamp(this.path);
    if (this.loaded !== undefined && before === this.loaded.stamp) return { loaded: this.loaded, behind: false };
    // A new content replaces `loaded` below, or the read is retried: either way only a change this
    // sync makes in place may be handed on as changes (poll also checks lastChanges' from/to).
    this.lastChanges = undefined;
    if (before === '') {
      if (!missingOk) throw new Error(`${this.path}: file missing (keeping the last good copy)`);
      return { loaded: (this.loaded = { stamp: '', records: new Map() }), behind: false };
    }
    // Bytes, not text: a CSV parse takes them line by line (file-format.ts csvLines).
    const text = await fsp.readFile(this.path);
    // Written to while we read: keep what we had; the next poll takes it once it is still.
    if ((await stamp(this.path)) !== before) {
      if (this.loaded === undefined) throw new Error(`${this.path}: changed while being read`);
      return { loaded: this.loaded, behind: true };
    }
    // Parsed over several event-loop turns (the tracker serves meanwhile).
    const startedFrom = this.loaded;
    const records = await this.parse(text, this.path);
    const parsedFrom = this.parsedStamp;
    this.parsedStamp = before;
    const changes = this.parseChanges();
    let next: Map<string, T> | undefined;
    // The memo was last parsed from the content in use, and no write() replaced it meanwhile: change it in place.
    if (changes !== undefined && startedFrom !== undefined && parsedFrom === startedFrom.stamp && this.loaded === startedFrom) {
      const applied = this.applyInPlace(startedFrom.records, changes);
      if (applied !== undefined) {
        this.lastChanges = { ...applied, from: startedFrom.stamp, to: before };
        next = startedFrom.records;
      }
    }
    next ??= await this.index(records);
    // A write() of ours landed while this was parsed or indexed: its content is newer than what was read.
    if (this.loaded !== startedFrom) return { loaded: this.loaded!, behind: false };
    return { loaded: (this.loaded = { stamp: before, records: next }), behind: false };
  }

  /** The records by key, built over event-loop turns; a key's last record wins, as in the file. */
  private async index(records: readonly T[]): Promise<Map<string, T>> {
    const byKey = new Map<string, T>();
    const slicer = new WorkSlicer();
    for (const r of records) {
      byKey.set(this.keyOf(r), r);
      if (slicer.due()) await slicer.nextTurn();
    }
    return byKey;
  }

  /**
   * Applies a parse's changes to `map`, the records of the content it was parsed against. Returns
   * what changed by key, or undefined if the result cannot be trusted to equal a fresh index of the
   * file: two different lines with one key (the file's last would win; here the order is lost).
   * `map` is then left for the caller to rebuild.
   */
  private applyInPlace(map: Map<string, T>, changes: CsvChanges<T>): ListChanges<T> | undefined {
    const removed: string[] = [];
    for (const r of changes.removed) {
      const key = this.keyOf(r);
      if (map.get(key) !== r) return undefined; // the key was held by another line: duplicates
      map.delete(key);
      removed.push(key);
    }
    for (const r of changes.added) map.set(this.keyOf(r), r);
    // One record per key: as many keys as distinct lines, unless two lines share a key.
    if (map.size !== changes.lines) return undefined;
    return { changed: changes.added, removed: removed.filter((key) => !map.has(key)) };
  }

  /** `records` if the content changed since the last poll (or `changes`, what changed), else neither; `behind` as sync() says. */
  async poll(missingOk: boolean): Promise<PollResult<T>> {
    const { loaded, behind } = await this.sync(missingOk);
    if (loaded.stamp === this.delivered && this.delivered !== undefined) return { behind };
    const previous = this.delivered;
    this.delivered = loaded.stamp;
    const c = this.lastChanges;
    if (c !== undefined && previous !== undefined && c.from === previous && c.to === loaded.stamp) {
      return { changes: { changed: c.changed, removed: c.removed }, behind };
    }
    return { records: [...loaded.records.values()], behind };
  }

  /** A copy of the current records, for a read-modify-write (the cached copy if the file is unchanged). */
  async current(): Promise<Map<string, T>> {
    return new Map((await this.sync(true)).loaded.records);
  }

  /**
   * Writes the records atomically (temporary file + rename). If the registry already held the
   * content this change was made over, it applies the change itself: the next poll need not
   * re-read our own write. Otherwise the next poll delivers the whole new content.
   */
  async write(records: Map<string, T>): Promise<void> {
    const base = this.loaded?.stamp;
    await fsp.mkdir(dirname(this.path), { recursive: true });
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const file = await fsp.open(tmp, 'w');
    try {
      await file.writeFile(this.format([...records.values()]));
      await this.fs.fsync(file, tmp);
    } finally {
      await file.close();
    }
    await this.fs.rename(tmp, this.path);
    await this.fs.fsyncDir(dirname(this.path));
    this.loaded = { stamp: await stamp(this.path), records };
    if (this.delivered === base) this.delivered = this.loaded.stamp;
  }

  /** Runs a read-modify-write under `<file>.lock`, so the CLI and a running tracker do not lose each other's changes. */
  async locked<R>(fn: () => Promise<R>): Promise<R> {
    const lock = `${this.path}.lock`;
    await fsp.mkdir(dirname(this.path), { recursive: true });
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        const h = await fsp.open(lock, 'wx');
        await h.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A lock older than 30 s was left by a crashed writer.
        const st = await fsp.stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > 30_000) await fsp.rm(lock, { force: true });
        else if (Date.now() > deadline) throw new Error(`${lock}: locked by another writer for over 5 s`);
        else await new Promise((r) => setTimeout(r, 20));
      }
    }
    try {
      return await fn();
    } finally {
      await fsp.rm(lock, { force: true });
    }
  }
}

export class FileSource implements RegistrySource, RegistryStore {
  readonly name = 'file';
  readonly refreshIntervalMs: number;
  readonly store: RegistryStore = this;
  private readonly users: ListFile<UserRecord> | undefined;
  private readonly torrents: ListFile<TorrentRecord> | undefined;

  constructor(readonly options: FileSourceOptions) {
    this.refreshIntervalMs = options.pollIntervalMs;
    const u = options.users;
    const t = options.torrents;
    const fs = options.fs ?? nodeFs;
    // Each file keeps what its last parse made of each CSV line: a reload parses only new lines.
    const userLines = new CsvLineMemo<UserRecord>();
    const torrentLines = new CsvLineMemo<TorrentRecord>();
    this.users = u === '' ? undefined : new ListFile(u, (text, p) => parseUsersFileInTurns(text, formatOf(u), p, userLines), (r) => formatUsersFile(r, formatOf(u)), (r) => r.passkey, fs,
      () => userLines.lastChanges);
    this.torrents = t === '' ? undefined : new ListFile(t, (text, p) => parseTorrentsFileInTurns(text, formatOf(t), p, torrentLines), (r) => formatTorrentsFile(r, formatOf(t)), (r) => r.key, fs,
      () => torrentLines.lastChanges);
  }

  /** Files that are missing at start-up count as empty, so a new site can start before its first `users add`. */
  async load(): Promise<RegistryUpdate> {
    return {
      allUsers: (await this.users?.poll(true))?.records ?? [],
      allTorrents: (await this.torrents?.poll(true))?.records ?? [],
    };
  }

  async refresh(): Promise<RegistryUpdate> {
    const update: RegistryUpdate = {};
    // Both files are checked even if the first fails, so a good torrents file is not held up by a bad users file.
    const [u, t] = await Promise.allSettled([this.users?.poll(false), this.torrents?.poll(false)]);
    if (u.status === 'rejected') throw u.reason;
    if (t.status === 'rejected') throw t.reason;
    if (u.value?.records !== undefined) update.allUsers = u.value.records;
    if (t.value?.records !== undefined) update.allTorrents = t.value.records;
    // A reload where a few lines changed hands over only those (ListFile).
    if (u.value?.changes !== undefined) {
      update.users = u.value.changes.changed;
      update.removedUsers = u.value.changes.removed;
    }
    if (t.value?.changes !== undefined) {
      update.torrents = t.value.changes.changed;
      update.removedTorrents = t.value.changes.removed;
    }
    if (u.value?.behind === true || t.value?.behind === true) update.behind = true;
    return update;
  }

  async close(): Promise<void> {}

  // --- RegistryStore ---

  private need<T>(file: ListFile<T> | undefined, what: string): ListFile<T> {
    if (file === undefined) throw new Error(`registry.${what} is not set: there is no ${what} file to write`);
    return file;
  }

  async putUsers(users: readonly UserRecord[], written?: (users: number) => void): Promise<{ added: number; replaced: number }> {
    const file = this.need(this.users, 'users');
    return file.locked(async () => {
      const all = await file.current();
      let added = 0;
      for (const u of users) {
        if (!all.has(u.passkey)) added++;
        all.set(u.passkey, u);
      }
      await file.write(all);
      // One file rewritten whole: every user is written at once.
      written?.(users.length);
      return { added, replaced: users.length - added };
    });
  }

  async setUserEnabled(passkey: string, enabled: boolean): Promise<UserRecord | undefined> {
    const file = this.need(this.users, 'users');
    return file.locked(async () => {
      const all = await file.current();
      const u = all.get(passkey);
      if (u === undefined) return undefined;
      const next = { ...u, enabled };
      all.set(passkey, next);
      await file.write(all);
      return next;
    });
  }

  async removeUser(passkey: string): Promise<boolean> {
    const file = this.need(this.users, 'users');
    return file.locked(async () => {
      const all = await file.current();
      if (!all.delete(passkey)) return false;
      await file.write(all);
      return true;
    });
  }

  async putTorrent(torrent: TorrentRecord): Promise<void> {
    const file = this.need(this.torrents, 'torrents');
    await file.locked(async () => {
      const all = await file.current();
      all.set(torrent.key, torrent);
      await file.write(all);
    });
  }

  async removeTorrent(key: string): Promise<boolean> {
    const file = this.need(this.torrents, 'torrents');
    return file.locked(async () => {
      const all = await file.current();
      if (!all.delete(key)) return false;
      await file.write(all);
      return true;
    });
  }

  async listTorrents(): Promise<TorrentRecord[]> {
    return [...(await this.need(this.torrents, 'torrents').current()).values()];
  }
}
