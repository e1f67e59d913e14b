/**
 * The MySQL / MariaDB sink (mysql2): privtrak's own tables in the site's database server.
 *
 * A batch is one transaction on one connection (mysql-session.ts):
 *   1. `START TRANSACTION; SELECT applied_through ... FOR UPDATE` (one round trip) locks the
 *      instance's mark row, so a second writer with the same instance name (a misconfiguration)
 *      waits instead of applying the batch again;
 *      (and first the fence row, if the batch has a fence: a stale token is refused there);
 *   2. the batch is folded above that mark (aggregate.ts: deltas at or below it are skipped);
 *   3. the upserts (mysql-statements.ts, sorted by key, chunked), the new mark and COMMIT go to the
 *      server in one round trip (multi-statement): a failing statement stops the rest, so COMMIT
 *      is never reached and the ROLLBACK that follows leaves nothing of the batch.
 * Round trips per batch: two (lock + write), plus one per connection for the mark row's INSERT
 * IGNORE. Every operation has a deadline (`timeoutMs`, default 30 s): a server that stops
 * answering fails the batch (retried by the flusher) instead of hanging it.
 *
 * Totals are BIGINT (to 2^63) and come back as decimal strings, converted to exact bigints.
 * The schema is created by `privtrak migrate`, not on start: production databases change under
 * an operator's control.
 */
import type { DeltaBatch } from '../accounting/delta.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from './sink.js';
import { aggregateBatch } from './aggregate.js';
import { SCHEMA_VERSION, schemaStatements, totalsSql } from './sql-schema.js';
import { MysqlSession, type Conn } from './mysql-session.js';
import { deltaLogInserts, torrentUpserts, userUpserts } from './mysql-statements.js';
import { SinkSchemaError, staleFence } from './sink-errors.js';

export interface MysqlSinkOptions {
  /** mysql://user:pass@host:3306/database (mariadb:// too). */
  readonly url: string;
  /** Also write every applied delta to privtrak_delta_log. Default false. */
  readonly deltaLog?: boolean;
  /** Deadline of one operation (a batch's transaction, a query), ms. Default 30,000. */
  readonly timeoutMs?: number;
  /** Rows per multi-row statement. Default 2,000 (about 300 KB of SQL, far below max_allowed_packet). */
  readonly chunkRows?: number;
}

type Row = Record<string, unknown>;

const TABLES = ['privtrak_schema_version', 'privtrak_torrent_stats', 'privtrak_user_stats', 'privtrak_batches', 'privtrak_delta_log'];

async function rows(conn: Conn, sql: string, args: unknown[] = []): Promise<Row[]> {
  const [r] = await conn.query(sql, args);
  return r as Row[];
}

/** A BIGINT as mysql2 returns it with bigNumberStrings (a string), or a small int (a number). */
const big = (v: unknown): bigint => BigInt(v as string | number);

export class MysqlSink implements DeltaSink {
  readonly name = 'mysql';
  private readonly session: MysqlSession;
  private readonly deltaLog: boolean;
  private readonly chunkRows: number;
  /** Instances whose mark row is known to exist (it is never deleted). */
  private readonly knownInstances = new Set<string>();
  /** Fence names whose row is known to exist (DeltaBatch.fence). */
  private readonly knownFences = new Set<string>();

  constructor(opts: MysqlSinkOptions) {
    this.session = new MysqlSession({ url: opts.url, timeoutMs: opts.timeoutMs ?? 30_000 });
    this.deltaLog = opts.deltaLog ?? false;
    this.chunkRows = opts.chunkRows ?? 2000;
  }

  async open(): Promise<void> {
    await this.session.run(async (conn) => {
      const [db] = await rows(conn, 'SELECT DATABASE() AS db');
      if (db?.['db'] == null) throw new SinkSchemaError('mysql sink: the URL names no database (mysql://user@host/DATABASE)');
      const found = await rows(conn, `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?)`, [TABLES]);
      if (found.length < TABLES.length) {
        throw new SinkSchemaError(`mysql sink: database "${String(db['db'])}" has no privtrak tables: run \`privtrak migrate\` (with the same config) first`);
      }
      const [v] = await rows(conn, 'SELECT max(version) AS v FROM privtrak_schema_version');
      const version = Number(v?.['v'] ?? 0);
      if (version < SCHEMA_VERSION) {
        throw new SinkSchemaError(`mysql sink: database "${String(db['db'])}" is at schema version ${version}, this privtrak needs ${SCHEMA_VERSION}: run \`privtrak migrate\``);
      }
      if (version > SCHEMA_VERSION) {
        throw new SinkSchemaError(`mysql sink: database "${String(db['db'])}" is at schema version ${version}, newer than this privtrak (${SCHEMA_VERSION}): upgrade privtrak`);
      }
    });
  }

  /**
   * Creates the tables (CREATE TABLE IF NOT EXISTS) and records the version. Idempotent. Takes no
   * rekey (DeltaSink.migrate): this sink came with schema 2, so its tables never held passkeys.
   */
  async migrate(): Promise<void> {
    await this.session.run(async (conn) => {
      // DDL commits implicitly in MySQL, so a transaction cannot serialize two `privtrak migrate`
      // at once; a named lock (per database) does.
      const [lock] = await rows(conn, `SELECT GET_LOCK(CONCAT('privtrak_migrate.', DATABASE()), 20) AS ok`);
      if (Number(lock?.['ok']) !== 1) throw new Error('mysql sink: another `privtrak migrate` holds the migration lock');
      try {
        for (const sql of schemaStatements('mysql')) await conn.query(sql);
        const [v] = await rows(conn, 'SELECT max(version) AS v FROM privtrak_schema_version');
        if (Number(v?.['v'] ?? 0) < SCHEMA_VERSION) await conn.query('INSERT INTO privtrak_schema_version (version) VALUES (?)', [SCHEMA_VERSION]);
      } finally {
        await conn.query(`SELECT RELEASE_LOCK(CONCAT('privtrak_migrate.', DATABASE()))`);
      }
    });
  }

  async apply(batch: DeltaBatch): Promise<void> {
    if ((batch.records?.length ?? batch.deltas.length) === 0) return;
    await this.session.run(async (conn) => {
      if (!this.knownInstances.has(batch.instance)) {
        // Outside the transaction: INSERT IGNORE of an existing row takes a shared lock, and two
        // transactions each holding one and both wanting FOR UPDATE would deadlock.
        await conn.query('INSERT IGNORE INTO privtrak_batches (instance, applied_through, applied_at_ms) VALUES (?, 0, ?)', [batch.instance, Date.now()]);
        this.knownInstances.add(batch.instance);
      }
      if (batch.fence !== undefined && !this.knownFences.has(batch.fence.name)) {
        // The fence row likewise (token 0: below any real token, so the first holder passes).
        await conn.query('INSERT IGNORE INTO privtrak_fences (name, token) VALUES (?, 0)', [batch.fence.name]);
        this.knownFences.add(batch.fence.name);
      }
      try {
        await this.applyLocked(conn, batch);
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * Opens the transaction and locks the fence (if the batch has one) and the mark (one round
   * trip), folds above the mark, writes everything and COMMITs (one more). The fence row is
   * locked before the mark row by every writer, so two drainers cannot deadlock on them.
   */
  private async applyLocked(conn: Conn, batch: DeltaBatch): Promise<void> {
    const fence = batch.fence;
    const lockFence = fence === undefined ? '' : conn.format('SELECT token FROM privtrak_fences WHERE name = ? FOR UPDATE; ', [fence.name]);
    const [results] = await conn.query(`START TRANSACTION; ${lockFence}SELECT applied_through FROM privtrak_batches WHERE instance = ? FOR UPDATE`, [batch.instance]);
    const sets = results as unknown[];
    const [mark] = sets[sets.length - 1] as Row[];
    if (mark === undefined) {
      this.knownInstances.delete(batch.instance);
      throw new Error(`mysql sink: the mark row of instance "${batch.instance}" vanished (was privtrak_batches emptied?); the batch will be retried`);
    }
    const fenceWrites: string[] = [];
    if (fence !== undefined) {
      const [row] = sets[1] as Row[];
      if (row === undefined) {
        this.knownFences.delete(fence.name);
        throw new Error(`mysql sink: the fence row "${fence.name}" vanished (was privtrak_fences emptied?); the batch will be retried`);
      }
      const recorded = Number(row['token']);
      if (fence.token < recorded) throw staleFence('mysql', fence, recorded);
      if (fence.token !== recorded) fenceWrites.push(conn.format('UPDATE privtrak_fences SET token = ? WHERE name = ?', [fence.token, fence.name]));
    }
    const agg = aggregateBatch(batch, Number(mark['applied_through']));
    if (agg.count === 0) {
      await conn.query(fenceWrites.length === 0 ? 'ROLLBACK' : [...fenceWrites, 'COMMIT'].join(';\n'));
      return;
    }
    const writes = [
      ...fenceWrites,
      ...torrentUpserts(agg, this.chunkRows),
      ...userUpserts(agg, this.chunkRows),
      ...(this.deltaLog ? deltaLogInserts(batch.instance, agg.applied(), this.chunkRows) : []),
      conn.format('UPDATE privtrak_batches SET applied_through = ?, applied_at_ms = ? WHERE instance = ?', [agg.through, Date.now(), batch.instance]),
      'COMMIT',
    ];
    await conn.query(writes.join(';\n'));
  }

  async load(instance: string): Promise<SinkState> {
    return this.session.run(async (conn) => {
      const [r] = await rows(conn, 'SELECT applied_through FROM privtrak_batches WHERE instance = ?', [instance]);
      return { appliedThrough: Number(r?.['applied_through'] ?? 0) };
    });
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    const args = query.user ? [query.user] : [];
    const sql = totalsSql(query, '?');
    const result = await this.session.run((conn) => rows(conn, sql, args));
    return result.map((row) => ({
      user: row['user_id'] as Buffer,
      infoHash: query.byTorrent ? (row['info_hash'] as Buffer) : undefined,
      uploaded: big(row['uploaded']),
      downloaded: big(row['downloaded']),
      rawUploaded: big(row['raw_uploaded']),
      rawDownloaded: big(row['raw_downloaded']),
      siteTorrentId: query.byTorrent ? (row['site_torrent_id'] === null ? null : big(row['site_torrent_id'])) : undefined,
      seedTime: big(row['seed_time']),
      leechTime: big(row['leech_time']),
      snatched: big(row['snatched']),
    }));
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
