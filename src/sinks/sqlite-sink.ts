/**
 * The embedded default sink: SQLite through better-sqlite3 (synchronous, in-process).
 * A batch is one transaction (`db.transaction`, prepared statements): read the instance's
 * applied_through, fold the new deltas (aggregate.ts), upsert per-torrent and per-user totals,
 * log raw deltas if asked, and move applied_through — all or nothing.
 * `open()` creates the directory and the schema: the default configuration must just work.
 *
 * Durability: WAL with synchronous=NORMAL is durable against the *process* dying (kill -9, a
 * crash): a committed transaction is in the WAL file, written through the OS page cache, which
 * the kernel keeps. It is NOT enough if the OS or the machine dies (power loss, kernel panic):
 * the last transactions may be lost (never half-applied: the database stays consistent).
 * `durable: true` uses synchronous=FULL (fsync of the WAL at every commit) to survive that too.
 *
 * Totals are read with safeIntegers, so sums beyond 2^53 come back as exact bigints.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { DeltaBatch } from '../accounting/delta.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from './sink.js';
import { aggregateBatch } from './aggregate.js';
import { LEGACY_SCHEMA_VERSION, SCHEMA_VERSION, SQLITE_CLUSTERED, SQLITE_CLUSTERED_TABLES, schemaStatements, totalsSql } from './sql-schema.js';
import { staleFence } from './sink-errors.js';
import { LEGACY_USERS_SQL, rekeyMapTableSql, rekeyStatements } from './sql-rekey.js';
import { LegacyDataError, mapAll, type Rekey } from '../accounting/legacy-data.js';

export interface SqliteSinkOptions {
  /** Database file (its directory is created), or ':memory:'. */
  readonly path: string;
  /** Also write every applied delta to privtrak_delta_log. Default false. */
  readonly deltaLog?: boolean;
  /** synchronous=FULL instead of NORMAL: survive power loss, not only process crashes. */
  readonly durable?: boolean;
}

type Row = Record<string, unknown>;

/**
 * WAL pages after which a commit copies the WAL back into the database file (a checkpoint, with
 * an fsync of each). SQLite's default, 1,000 pages (4 MB), is less than one busy flush writes: a
 * batch of 10,000 deltas over 100,000 (user, torrent) rows dirties most of the table's pages,
 * so every commit also checkpointed, and the writer spent a third of its CPU there
 * (BENCHMARKS.md). At 10,000 pages (40 MB of WAL) a checkpoint comes every few batches. Commits
 * are as durable either way: a committed transaction is in the WAL.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000;

export class SqliteSink implements DeltaSink {
  readonly name = 'sqlite';
  private db: Database.Database | undefined;
  private applyTx: Database.Transaction<(batch: DeltaBatch) => void> | undefined;

  constructor(private readonly opts: SqliteSinkOptions) {}

  async open(): Promise<void> {
    if (this.applyTx) return;
    // The embedded default must just work: SQLite creates its schema itself.
    await this.migrate();
    this.applyTx = this.prepareApply(this.requireDb(true));
  }

  private connect(): Database.Database {
    if (this.db) return this.db;
    if (this.opts.path !== ':memory:') mkdirSync(dirname(this.opts.path), { recursive: true });
    const db = new Database(this.opts.path);
    db.defaultSafeIntegers(false);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${this.opts.durable ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    this.db = db;
    return db;
  }

  /**
   * Creates the file and schema if missing (also without open(): `privtrak migrate`), and upgrades
   * schema 1 (sink.ts: legacy rows are rekeyed, in the same transaction) and 2 (adds the fences
   * table). Totals tables written before they were WITHOUT ROWID are rebuilt so (sql-schema.ts),
   * whatever the version. Idempotent.
   */
  async migrate(rekey?: Rekey): Promise<void> {
    const db = this.connect();
    const rekeyed = db.transaction(() => {
      for (const sql of schemaStatements('sqlite')) db.exec(sql);
      for (const table of SQLITE_CLUSTERED_TABLES) this.cluster(db, table);
      const v = (db.prepare('SELECT max(version) AS v FROM privtrak_schema_version').get() as { v: number | null }).v;
      if (v === SCHEMA_VERSION) return false;
      if (v !== null && v > SCHEMA_VERSION) throw new Error(`sqlite sink ${this.opts.path}: schema version ${v} is newer than this privtrak (${SCHEMA_VERSION}): upgrade privtrak`);
      // Schema 2 -> 3 only adds privtrak_fences (created above); schema 1 holds passkeys.
      const changed = v !== null && v < LEGACY_SCHEMA_VERSION && this.rekeyLegacy(db, rekey);
      db.prepare('INSERT INTO privtrak_schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
      return changed;
    })();
    if (rekeyed && this.opts.path !== ':memory:') {
      // Deleted rows stay in free pages and old WAL frames: rewrite the file and empty the WAL, so
      // no passkey is left on disk.
      db.exec('VACUUM');
      db.pragma('wal_checkpoint(TRUNCATE)');
    }
  }

  /**
   * Rebuilds `table` as WITHOUT ROWID if it is a rowid table (a file from before): the same columns
   * and rows, copied into a new table that takes its name. Called inside migrate's transaction, so
   * a crash leaves the old table whole. It takes a while once on a large file: every row is copied,
   * in key order (the old table's key index gives it, and each row lands at the new B-tree's right
   * edge): 1.4 s for a million rows on the benchmark machine, 5.4 s in the old table's order.
   */
  private cluster(db: Database.Database, table: string): void {
    const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(table) as string;
    if (sql.trimEnd().toUpperCase().endsWith(SQLITE_CLUSTERED)) return;
    const create = schemaStatements('sqlite').find((s) => s.includes(`EXISTS ${table} (`))!;
    // The table's columns, and its primary key's in key order (pk: position in the key, 0 = not in it).
    const info = db.prepare('SELECT name, pk FROM pragma_table_info(?)').all(table) as Array<{ name: string; pk: number }>;
    const columns = info.map((c) => c.name).join(', ');
    const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name).join(', ');
    db.exec(create.replace(`EXISTS ${table} (`, `EXISTS ${table}_clustered (`));
    db.exec(`INSERT INTO ${table}_clustered (${columns}) SELECT ${columns} FROM ${table} ORDER BY ${key}`);
    db.exec(`DROP TABLE ${table}`);
    db.exec(`ALTER TABLE ${table}_clustered RENAME TO ${table}`);
  }

  /** Schema 1: rows keyed by passkeys (sql-rekey.ts). Without rows there is nothing to rekey (false). */
  private rekeyLegacy(db: Database.Database, rekey: Rekey | undefined): boolean {
    const legacy = db.prepare(LEGACY_USERS_SQL).pluck().all() as Buffer[];
    if (legacy.length === 0) return false;
    if (rekey === undefined) throw new LegacyDataError(`the SQLite sink ${this.opts.path}`);
    const map = mapAll(`the SQLite sink ${this.opts.path}`, legacy, rekey);
    db.exec(rekeyMapTableSql('sqlite'));
    const put = db.prepare('INSERT INTO privtrak_rekey (old_id, new_id) VALUES (?, ?)');
    for (const old of legacy) put.run(old, map.get(old.toString('latin1')));
    for (const sql of rekeyStatements('sqlite')) db.exec(sql);
    return true;
  }

  private requireDb(allowUnprepared = false): Database.Database {
    if (!this.db || (!allowUnprepared && !this.applyTx)) throw new Error('sqlite sink is not open');
    return this.db;
  }

  private prepareApply(db: Database.Database): Database.Transaction<(batch: DeltaBatch) => void> {
    const getMark = db.prepare('SELECT applied_through FROM privtrak_batches WHERE instance = ?').pluck().safeIntegers(true);
    const setMark = db.prepare(`INSERT INTO privtrak_batches (instance, applied_through, applied_at_ms) VALUES (?, ?, ?)
      ON CONFLICT (instance) DO UPDATE SET applied_through = excluded.applied_through, applied_at_ms = excluded.applied_at_ms`);
    const upTorrent = db.prepare(`INSERT INTO privtrak_torrent_stats
      (user_id, info_hash, uploaded, downloaded, raw_uploaded, raw_downloaded, site_torrent_id, seed_time, leech_time, snatched, first_seen_ms, last_seen_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (user_id, info_hash) DO UPDATE SET
        uploaded = uploaded + excluded.uploaded, downloaded = downloaded + excluded.downloaded,
        raw_uploaded = raw_uploaded + excluded.raw_uploaded, raw_downloaded = raw_downloaded + excluded.raw_downloaded,
        site_torrent_id = coalesce(excluded.site_torrent_id, site_torrent_id),
        seed_time = seed_time + excluded.seed_time, leech_time = leech_time + excluded.leech_time,
        snatched = max(snatched, excluded.snatched),
        first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`);
    const upUser = db.prepare(`INSERT INTO privtrak_user_stats
      (user_id, uploaded, downloaded, raw_uploaded, raw_downloaded, seed_time, leech_time, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (user_id) DO UPDATE SET
        uploaded = uploaded + excluded.uploaded, downloaded = downloaded + excluded.downloaded,
        raw_uploaded = raw_uploaded + excluded.raw_uploaded, raw_downloaded = raw_downloaded + excluded.raw_downloaded,
        seed_time = seed_time + excluded.seed_time, leech_time = leech_time + excluded.leech_time,
        first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`);
    const logDelta = db.prepare(`INSERT INTO privtrak_delta_log (instance, seq, user_id, info_hash, peer_id, ip, port, event,
      uploaded, downloaded, left_bytes, delta_up, delta_down, credit_up, credit_down, site_torrent_id, seed_time, leech_time, snatch, flags, time_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const getFence = db.prepare('SELECT token FROM privtrak_fences WHERE name = ?').pluck();
    const setFence = db.prepare(`INSERT INTO privtrak_fences (name, token) VALUES (?, ?)
      ON CONFLICT (name) DO UPDATE SET token = excluded.token`);
    return db.transaction((batch: DeltaBatch) => {
      // The fence first, in the same transaction as the mark: a stale token writes nothing, and a
      // batch that fails later rolls its token back with everything else. (A write transaction
      // holds SQLite's single writer lock, so no other connection can move the fence meanwhile.)
      if (batch.fence !== undefined) {
        const recorded = getFence.get(batch.fence.name) as number | undefined;
        if (recorded !== undefined && batch.fence.token < recorded) throw staleFence('sqlite', batch.fence, recorded);
        if (recorded !== batch.fence.token) setFence.run(batch.fence.name, batch.fence.token);
      }
      const mark = getMark.get(batch.instance) as bigint | undefined;
      const agg = aggregateBatch(batch, mark === undefined ? 0 : Number(mark));
      if (agg.count === 0) return;
      // Rows come in key order, so the upserts walk each B-tree once from left to right (aggregate.ts).
      for (const t of agg.torrents) {
        upTorrent.run(t.user, t.infoHash, t.uploaded, t.downloaded, t.rawUploaded, t.rawDownloaded, t.siteTorrentId,
          t.seedTime, t.leechTime, t.snatched, t.firstMs, t.lastMs);
      }
      for (const u of agg.users) upUser.run(u.user, u.uploaded, u.downloaded, u.rawUploaded, u.rawDownloaded, u.seedTime, u.leechTime, u.firstMs, u.lastMs);
      if (this.opts.deltaLog === true) {
        for (const d of agg.applied()) {
          logDelta.run(batch.instance, d.seq, d.user, d.infoHash, d.peerId, d.ip, d.port, d.event, d.uploaded, d.downloaded, d.left,
            d.deltaUp, d.deltaDown, d.creditUp, d.creditDown, d.siteTorrentId, d.seedTime, d.leechTime, d.snatch ? 1 : 0, d.flags, d.timeMs);
        }
      }
      setMark.run(batch.instance, agg.through, Date.now());
    });
  }

  async apply(batch: DeltaBatch): Promise<void> {
    this.requireDb();
    // IMMEDIATE: the write lock is taken before the mark and the fence are read, so two sinks on
    // one file (two drainers, a misconfiguration) wait for each other (busy_timeout) instead of
    // reading a mark the other is about to move.
    this.applyTx!.immediate(batch);
  }

  async load(instance: string): Promise<SinkState> {
    const mark = this.requireDb().prepare('SELECT applied_through FROM privtrak_batches WHERE instance = ?').pluck().get(instance) as number | undefined;
    return { appliedThrough: mark ?? 0 };
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    const db = this.requireDb();
    const args = query.user ? [query.user] : [];
    const sql = totalsSql(query, '?');
    const rows = db.prepare(sql).safeIntegers(true).all(...args) as Row[];
    return rows.map((r) => ({
      user: r['user_id'] as Buffer,
      infoHash: query.byTorrent ? (r['info_hash'] as Buffer) : undefined,
      uploaded: r['uploaded'] as bigint,
      downloaded: r['downloaded'] as bigint,
      rawUploaded: r['raw_uploaded'] as bigint,
      rawDownloaded: r['raw_downloaded'] as bigint,
      siteTorrentId: query.byTorrent ? (r['site_torrent_id'] as bigint | null) : undefined,
      seedTime: r['seed_time'] as bigint,
      leechTime: r['leech_time'] as bigint,
      snatched: r['snatched'] as bigint,
    }));
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    this.applyTx = undefined;
  }
}
