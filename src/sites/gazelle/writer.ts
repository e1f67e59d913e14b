/**
 * The Gazelle writer: the privtrak hook's sink for `site: gazelle`. It writes what Ocelot writes
 * (../shared/sites/README.md B.2, B.4) — users' credited totals, xbt_files_users, torrents'
 * counters, xbt_snatched, token usage in users_freeleeches — exactly once.
 *
 * A batch is one transaction on one connection (src/sinks/mysql-session.ts: strict SQL mode, a
 * deadline per operation, SinkUnreachable/SinkTimeout errors):
 *   1. `START TRANSACTION; SELECT … FOR UPDATE` locks the instance's mark in privtrak_site_applied;
 *      deltas at or below it were applied by an earlier attempt and are skipped;
 *   2. which of the batch's users and torrents still exist (deleted ones are dropped, counted in
 *      a metric: a row for them would fail a foreign key on every retry and jam the flusher);
 *   3. xbt_files_users, users' totals, users_freeleeches, xbt_snatched (writer-sql.ts; rows sorted
 *      by primary key, chunked);
 *   4. each touched torrent's Seeders/Leechers counted from its active xbt_files_users rows as this
 *      transaction now sees them, so the counters always agree with that table;
 *   5. the torrent counters, the new mark, COMMIT.
 * Any failure rolls everything back and rejects; the flusher retries the batch.
 *
 * Unlike Ocelot, open() never truncates xbt_files_users nor zeroes Seeders/Leechers: it only
 * checks the columns it writes and creates its own mark table. Stale peer rows are marked inactive
 * by the reaper (reaper.ts), which Ocelot never does.
 */
import type { DeltaBatch, StatDelta } from '../../accounting/delta.js';
import { MysqlSession, type Conn } from '../../sinks/mysql-session.js';
import type { AdoptedBaseline, DeltaSink, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import { SinkSchemaError } from '../../sinks/sink-errors.js';
import type { GazelleSiteConfig } from '../config.js';
import type { SiteDeps } from '../site.js';
import type { GazelleFacts } from './facts.js';
import { reapRound } from './reaper.js';
import { countDropped, gazelleWriterMetrics, type GazelleWriterMetrics } from './writer-metrics.js';
import { gazelleTorrentId, gazelleUserId, planBatch, type WritePlan } from './writer-plan.js';
import { countSwarms, existingIds, peerUpserts, sendAll, snatchInserts, tokenUpdates, torrentWrites, userWrites } from './writer-sql.js';
import { checkColumns, gazelleTables, type GazelleTables } from './writer-tables.js';
import { MARK_DDL, MARK_TABLE, ensureMarkRow, loadMark } from '../applied-mark.js';
import { gazelleTotals } from './writer-totals.js';
import { gazelleAdoptable } from './writer-adopt.js';

/** Peer rows one reaper round marks inactive (one transaction): its locks stay short. */
const REAP_ROWS_PER_ROUND = 5000;
/** Rounds per interval when each finds a full round's worth (a backlog after an outage): then the next interval. */
const REAP_ROUNDS_PER_TICK = 20;

type Row = Record<string, unknown>;

export class GazelleWriter implements DeltaSink {
  readonly name = 'gazelle';
  private readonly session: MysqlSession;
  private readonly tables: GazelleTables;
  private readonly metrics: GazelleWriterMetrics;
  private readonly maxRecords: number;
  /** Instances whose mark row is known to exist (never deleted by privtrak). */
  private readonly knownInstances = new Set<string>();
  private reapTimer: NodeJS.Timeout | undefined;
  private reaping: Promise<void> | undefined;
  private closed = false;

  constructor(readonly config: GazelleSiteConfig, readonly facts: GazelleFacts, readonly deps: SiteDeps) {
    this.session = new MysqlSession({ url: config.url, timeoutMs: config.timeout });
    this.tables = gazelleTables(config.schema);
    this.metrics = gazelleWriterMetrics(deps.prometheus);
    this.maxRecords = config.max_records_per_batch;
  }

  async open(): Promise<void> {
    this.closed = false;
    await this.session.run(async (conn) => {
      const [[db]] = (await conn.query('SELECT DATABASE() AS db')) as unknown as [Row[]];
      if (db?.['db'] == null) throw new SinkSchemaError('gazelle writer: the site URL names no database (mysql://user@host/DATABASE)');
      await checkColumns(conn, this.tables);
      await conn.query(MARK_DDL);
    });
    this.scheduleReaper();
  }

  /** Creates privtrak's mark table if missing (open() does too); the site's tables are the site's. */
  async migrate(): Promise<void> {
    await this.session.run(async (conn) => { await conn.query(MARK_DDL); });
  }

  async load(instance: string): Promise<SinkState> {
    return this.session.run(async (conn) => ({ appliedThrough: await loadMark(conn, instance) }));
  }

  async apply(batch: DeltaBatch): Promise<void> {
    const deltas = batch.deltas;
    if (deltas.length === 0) return;
    const plan = await this.session.run(async (conn) => {
      await ensureMarkRow(conn, batch.instance, this.knownInstances);
      try {
        return await this.applyLocked(conn, batch.instance, deltas);
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
    // Counted once committed: a failed attempt is retried and must not count twice.
    if (plan !== undefined) this.count(plan);
  }

  private async applyLocked(conn: Conn, instance: string, deltas: readonly StatDelta[]): Promise<WritePlan | undefined> {
    const [results] = await conn.query(`START TRANSACTION; SELECT applied_through FROM ${MARK_TABLE} WHERE instance = ? FOR UPDATE`, [instance]);
    const mark = ((results as unknown[])[1] as Row[])[0];
    if (mark === undefined) {
      this.knownInstances.delete(instance);
      throw new Error(`gazelle writer: the mark row of instance "${instance}" vanished (was ${MARK_TABLE} emptied?); the batch will be retried`);
    }
    const appliedThrough = Number(mark['applied_through']);
    if (!deltas.some((d) => d.seq > appliedThrough)) {
      await conn.query('ROLLBACK');
      return undefined;
    }
    const uids = new Set<number>();
    const fids = new Set<number>();
    for (const d of deltas) {
      if (d.seq <= appliedThrough) continue;
      const uid = gazelleUserId(d.user);
      if (uid !== undefined) uids.add(uid);
      const fid = gazelleTorrentId(d);
      if (fid !== undefined) fids.add(fid);
    }
    const users = await existingIds(conn, 'users_main', 'ID', [...uids].sort((a, b) => a - b), this.maxRecords);
    const torrents = await existingIds(conn, 'torrents', 'ID', [...fids].sort((a, b) => a - b), this.maxRecords);
    const plan = planBatch({
      deltas, appliedThrough, facts: this.facts, extras: this.deps.extras,
      userExists: (uid) => users.has(uid), torrentExists: (fid) => torrents.has(fid),
    });
    const t = this.tables;
    const max = this.maxRecords;
    await sendAll(conn, [
      ...peerUpserts(plan.peers, max),
      ...userWrites(t, plan.users, max),
      ...tokenUpdates(plan.tokens, max),
      ...snatchInserts(plan.snatches, max),
    ]);
    const counts = await countSwarms(conn, plan.torrents.map((r) => r.fid), max);
    await sendAll(conn, [
      ...torrentWrites(t, plan.torrents, counts, max),
      conn.format(`UPDATE ${MARK_TABLE} SET applied_through = ?, applied_at = CURRENT_TIMESTAMP WHERE instance = ?`, [plan.through, instance]),
      'COMMIT',
    ]);
    return plan;
  }

  private count(plan: WritePlan): void {
    const m = this.metrics;
    m.batches.inc();
    if (plan.peers.length > 0) m.rows.inc({ table: 'xbt_files_users' }, plan.peers.length);
    if (plan.users.length > 0) m.rows.inc({ table: 'user_stats' }, plan.users.length);
    if (plan.torrents.length > 0) m.rows.inc({ table: 'torrent_stats' }, plan.torrents.length);
    if (plan.snatches.length > 0) m.rows.inc({ table: 'xbt_snatched' }, plan.snatches.length);
    if (plan.tokens.length > 0) m.rows.inc({ table: 'users_freeleeches' }, plan.tokens.length);
    countDropped(m, plan.dropped);
  }

  /**
   * Marks peer rows silent for longer than the peer lifetime inactive and recounts their torrents;
   * rounds of at most REAP_ROWS_PER_ROUND rows, each its own transaction queued with the batches.
   * Returns the rows marked. The timer calls it every `reap_interval`; tests call it directly.
   */
  async reapNow(nowMs: number = Date.now()): Promise<number> {
    const cutoffS = Math.floor((nowMs - this.deps.peerLifetimeMs) / 1000);
    let total = 0;
    for (let round = 0; round < REAP_ROUNDS_PER_TICK && !this.closed; round++) {
      const r = await this.session.run((conn) => reapRound(conn, this.tables, cutoffS, REAP_ROWS_PER_ROUND, this.maxRecords));
      total += r.reaped;
      if (r.reaped > 0) this.metrics.reaped.inc(r.reaped);
      if (!r.full) break;
    }
    return total;
  }

  /** The next reaper round after `reap_interval` (0: no reaper); a failed round is logged and retried at the next. */
  private scheduleReaper(): void {
    const interval = this.config.reap_interval;
    if (interval <= 0 || this.closed || this.reapTimer !== undefined) return;
    this.reapTimer = setTimeout(() => {
      this.reaping = this.reapNow().then(
        () => undefined,
        (err: unknown) => {
          this.metrics.reaperErrors.inc();
          this.deps.logger.warn({ err }, 'gazelle writer: reaper round failed; retried at the next interval');
        },
      ).finally(() => {
        this.reapTimer = undefined;
        this.reaping = undefined;
        this.scheduleReaper();
      });
    }, interval);
    this.reapTimer.unref();
  }

  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    return this.session.run((conn) => gazelleTotals(conn, this.tables, query));
  }

  /** Ocelot's last counters of each live peer (writer-adopt.ts), for the privtrak hook's first start. */
  async adoptableBaselines(): Promise<AdoptedBaseline[]> {
    return this.session.run((conn) => gazelleAdoptable(conn));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reapTimer !== undefined) clearTimeout(this.reapTimer);
    this.reapTimer = undefined;
    await this.reaping;
    await this.session.close();
  }
}
