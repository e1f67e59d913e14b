/**
 * The UNIT3D writer: the privtrak hook's sink for `site: unit3d`. It writes UNIT3D's own tables
 * as UNIT3D-Announce does (../shared/sites/README.md A.1, A.2): users' credited totals, history,
 * peers, torrents' counters, unregistered info hashes — exactly once.
 *
 * A batch is one transaction on one connection (MysqlSession: deadlines, strict SQL mode):
 *   1. `START TRANSACTION; SELECT … FOR UPDATE` of the instance's row in privtrak_site_applied;
 *      deltas at or below its mark were applied by an earlier attempt and are skipped;
 *   2. the batch's users, torrents and peers rows are read and locked (writer-sql.ts): which users
 *      and torrents still exist (a torrent deleted before the flush gets no rows instead of
 *      failing history's foreign key forever), and each peers row's state before the batch;
 *   3. the deltas are folded per row (writer-fold.ts), the torrents' counters derived from each
 *      peers row's transition and history.active from the peers left active (writer-peers.ts);
 *   4. the writes, the new mark and COMMIT, in as few round trips as max_allowed_packet allows.
 * Any failure rolls the whole batch back and rejects: the flusher retries it, and a retry after a
 * commit whose answer was lost finds the mark moved and writes nothing twice.
 *
 * The reaper (reaper.ts) runs on the same session, so it and a batch never run at once (and
 * never deadlock each other).
 */
import type { DeltaBatch } from '../../accounting/delta.js';
import { siteUserIdOf, siteUserKey } from '../../accounting/user-key.js';
import type { AdoptedBaseline, DeltaSink, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import { unit3dAdoptable } from './writer-adopt.js';
import { MysqlSession, type Conn } from '../../sinks/mysql-session.js';
import type { Unit3dSiteConfig } from '../config.js';
import type { SiteDeps } from '../site.js';
import type { Unit3dFacts } from './facts.js';
import { ASSUME_EXISTING, decodeAnnounces, fold, pairKey, pruneGone } from './writer-fold.js';
import { applyTransitions, type PriorPeer } from './writer-peers.js';
import { chunkOf, historyUpserts, peersUpserts, selectPeers, selectTorrents, selectUsers, torrentsUpdates, unregisteredUpserts,
  usersUpdates, type Unregistered } from './writer-sql.js';
import { checkSiteSchema } from './writer-schema.js';
import { MARK_DDL, MARK_TABLE, ensureMarkRow, loadMark } from '../applied-mark.js';
import { SiteWriterMetrics } from './writer-metrics.js';
import { reapRound, type ReapResult } from './reaper.js';

type Row = Record<string, unknown>;

/** Unregistered (user, info_hash) pairs kept until written; more are dropped (and counted): they are a site statistic, not accounting. */
const UNREGISTERED_LIMIT = 100_000;
/** Rows deactivated (and deleted) per reaper round at most. */
const REAP_ROWS_PER_ROUND = 10_000;
/** Ids of gone users/torrents already logged (a bounded memory of what was said). */
const LOGGED_LIMIT = 10_000;

const big = (v: unknown): bigint => BigInt(v as string | number);

export class Unit3dWriter implements DeltaSink {
  readonly name = 'unit3d';
  private readonly session: MysqlSession;
  private readonly metrics: SiteWriterMetrics;
  private readonly knownInstances = new Set<string>();
  private unregistered = new Map<string, Unregistered>();
  private readonly loggedGone = new Set<string>();
  /** Largest SQL text per round trip: half the server's max_allowed_packet, at most 8 MB. */
  private packetBytes = 4 << 20;
  private reapTimer: NodeJS.Timeout | undefined;
  private reaping: Promise<unknown> | undefined;

  constructor(readonly config: Unit3dSiteConfig, readonly facts: Unit3dFacts, readonly deps: SiteDeps) {
    this.session = new MysqlSession({ url: config.url, timeoutMs: config.timeout });
    this.metrics = new SiteWriterMetrics(deps.prometheus, 'unit3d');
  }

  /** An announce by a known user for an info_hash the site does not have (unregistered_info_hashes). */
  noteUnregistered(userId: number, infoHash: Buffer, nowMs: number): void {
    if (!Number.isSafeInteger(userId) || userId < 0 || infoHash.length !== 20) return;
    const key = `${userId}:${infoHash.toString('hex')}`;
    const e = this.unregistered.get(key);
    if (e !== undefined) {
      if (nowMs > e.updatedMs) e.updatedMs = nowMs;
      return;
    }
    if (this.unregistered.size >= UNREGISTERED_LIMIT) {
      this.metrics.drop('unregistered_overflow', 1);
      return;
    }
    this.unregistered.set(key, { userId, infoHash: Buffer.from(infoHash), createdMs: nowMs, updatedMs: nowMs });
  }

  /** Checks the site's tables, creates privtrak's mark table if missing, starts the reaper. */
  async open(): Promise<void> {
    await this.session.run(async (conn) => {
      await checkSiteSchema(conn);
      await conn.query(MARK_DDL);
      const [r] = await conn.query('SELECT @@max_allowed_packet AS m');
      const max = Number((r as Row[])[0]?.['m'] ?? 0);
      if (max > 0) this.packetBytes = Math.max(64 << 10, Math.min(8 << 20, Math.floor(max / 2)));
    });
    if (this.reapTimer === undefined && this.config.reap_interval > 0) {
      this.reapTimer = setInterval(() => this.reapTick(), this.config.reap_interval);
      this.reapTimer.unref();
    }
  }

  /** The mark table is privtrak's own and made by open(); nothing else to migrate (site tables are the site's). */
  async migrate(): Promise<void> {
    await this.session.run(async (conn) => { await conn.query(MARK_DDL); });
  }

  async load(instance: string): Promise<SinkState> {
    return this.session.run(async (conn) => ({ appliedThrough: await loadMark(conn, instance) }));
  }

  async apply(batch: DeltaBatch): Promise<void> {
    if ((batch.records?.length ?? batch.deltas.length) === 0) return;
    const t0 = performance.now();
    await this.session.run(async (conn) => {
      await ensureMarkRow(conn, batch.instance, this.knownInstances);
      const unregistered = this.takeUnregistered();
      try {
        const written = await this.applyLocked(conn, batch, unregistered);
        for (const [table, n] of Object.entries(written)) this.metrics.wrote(table, n);
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        this.restoreUnregistered(unregistered);
        throw err;
      }
    });
    this.metrics.applySeconds.observe({ site: 'unit3d' }, (performance.now() - t0) / 1000);
  }

  /** The transaction; returns the rows written per table (counted once COMMIT succeeded). */
  private async applyLocked(conn: Conn, batch: DeltaBatch, unregistered: Unregistered[]): Promise<Record<string, number>> {
    const [results] = await conn.query(
      `SET time_zone = '+00:00'; START TRANSACTION; SELECT applied_through FROM ${MARK_TABLE} WHERE instance = ? FOR UPDATE`, [batch.instance]);
    const mark = ((results as unknown[])[2] as Row[])[0];
    if (mark === undefined) {
      this.knownInstances.delete(batch.instance);
      throw new Error(`unit3d writer: the mark row of instance "${batch.instance}" vanished (was ${MARK_TABLE} emptied?); the batch will be retried`);
    }
    const decoded = decodeAnnounces(batch, Number(mark['applied_through']));
    if (decoded.count === 0) {
      await conn.query('ROLLBACK');
      this.restoreUnregistered(unregistered);
      return {};
    }
    const max = this.config.max_records_per_batch;

    // Which users and torrents exist (locked), and the peers rows' states before the batch.
    const userIds = new Set<number>();
    const torrentIds = new Set<number>();
    const pairs = new Map<string, { userId: number; torrentId: number }>();
    for (const a of decoded.announces) {
      userIds.add(a.userId);
      if (a.torrentId === null) continue;
      torrentIds.add(a.torrentId);
      pairs.set(pairKey(a.userId, a.torrentId), { userId: a.userId, torrentId: a.torrentId });
    }
    // The three locking reads go out at once (one after the other on the server, in this order:
    // users, torrents, peers), instead of a round trip each.
    const reads = Promise.all([
      queryAll(conn, selectUsers([...userIds], chunkOf('users', max))),
      queryAll(conn, selectTorrents([...torrentIds], chunkOf('torrents', max))),
      queryAll(conn, selectPeers([...pairs.values()], chunkOf('peers', max))),
    ]);
    // Folded while the server answers the reads; what they show gone is dropped after (pruneGone).
    const assumed = fold(decoded.announces, ASSUME_EXISTING, this.deps.extras);
    const [userRows, torrentRows, peerRows] = await reads;
    const users = new Set<number>(userRows.map((r) => Number(r['id'])));
    const torrents = new Set<number>(torrentRows.map((r) => Number(r['id'])));
    const prior: PriorPeer[] = peerRows.map((r) => ({
      userId: Number(r['user_id']), torrentId: Number(r['torrent_id']), peerIdHex: (r['peer_id'] as Buffer).toString('hex'),
      active: Number(r['active']) === 1, seeder: Number(r['seeder']) === 1,
    }));
    const folded = pruneGone(assumed, decoded.announces, { users, torrents }, this.deps.extras);
    applyTransitions(prior, folded.peers, folded.torrents, folded.history);
    this.noteDrops(decoded.notSiteUser, folded, userIds, users, torrentIds, torrents);

    const immune = (id: number) => this.facts.immune(id);
    function* writes(): Generator<string> {
      yield* usersUpdates(folded.users.values(), chunkOf('users', max));
      yield* torrentsUpdates(folded.torrents.values(), chunkOf('torrents', max));
      yield* peersUpserts(folded.peers.values(), chunkOf('peers', max));
      yield* historyUpserts(folded.history.values(), immune, chunkOf('history', max));
      yield* unregisteredUpserts(unregistered, chunkOf('unregistered', max));
    }
    await this.send(conn, writes());
    // Only once every write succeeded: the mark and COMMIT (a failed one leaves the caller's ROLLBACK).
    await conn.query(`UPDATE ${MARK_TABLE} SET applied_through = ?, applied_at = CURRENT_TIMESTAMP WHERE instance = ?; COMMIT`,
      [decoded.through, batch.instance]);
    return {
      users: folded.users.size, torrents: folded.torrents.size, peers: folded.peers.size, history: folded.history.size,
      unregistered_info_hashes: unregistered.length,
    };
  }

  /**
   * Sends the statements in multi-statement groups of up to packetBytes, each group as soon as it
   * is built, without waiting for the one before: the server executes a group while the next is
   * being built (the client's work and the server's overlap instead of taking turns). Groups run in
   * order; if one fails, those after it may still run, but nothing is committed: this rejects once
   * every group has settled, and the caller rolls back.
   */
  private async send(conn: Conn, statements: Iterable<string>): Promise<void> {
    const sent: Array<Promise<unknown>> = [];
    let group: string[] = [];
    let bytes = 0;
    for (const sql of statements) {
      if (group.length > 0 && bytes + sql.length + 2 > this.packetBytes) {
        sent.push(conn.query(group.join(';\n')));
        group = [];
        bytes = 0;
      }
      group.push(sql);
      bytes += sql.length + 2;
    }
    if (group.length > 0) sent.push(conn.query(group.join(';\n')));
    await settleAll(sent);
  }

  /** UNIT3D-Announce's last counters of each live peer (writer-adopt.ts), for the privtrak hook's first start. */
  async adoptableBaselines(): Promise<AdoptedBaseline[]> {
    return this.session.run((conn) => unit3dAdoptable(conn));
  }

  private noteDrops(notSiteUser: number, folded: ReturnType<typeof fold>, userIds: Set<number>, users: Set<number>,
    torrentIds: Set<number>, torrents: Set<number>): void {
    this.metrics.drop('not_site_user', notSiteUser);
    this.metrics.drop('no_torrent_id', folded.noTorrent);
    this.metrics.drop('user_gone', folded.droppedUser);
    this.metrics.drop('torrent_gone', folded.droppedTorrent);
    if (folded.droppedUser + folded.droppedTorrent === 0) return;
    // Logged once per id: a deleted torrent's peers may keep reaching batches for a while.
    const fresh = (kind: string, ids: Set<number>, have: Set<number>) => [...ids].filter((id) => !have.has(id) && !this.loggedGone.has(`${kind}${id}`));
    const goneUsers = fresh('u', userIds, users);
    const goneTorrents = fresh('t', torrentIds, torrents);
    if (goneUsers.length + goneTorrents.length === 0) return;
    if (this.loggedGone.size > LOGGED_LIMIT) this.loggedGone.clear();
    for (const id of goneUsers) this.loggedGone.add(`u${id}`);
    for (const id of goneTorrents) this.loggedGone.add(`t${id}`);
    this.deps.logger.warn({ usersGone: goneUsers.slice(0, 20), torrentsGone: goneTorrents.slice(0, 20), rowsDropped: folded.droppedUser + folded.droppedTorrent },
      'unit3d writer: deltas name users or torrents no longer in the site; their rows are left out (credits of a gone torrent still go to the user)');
  }

  private takeUnregistered(): Unregistered[] {
    if (this.unregistered.size === 0) return [];
    const out = [...this.unregistered.values()];
    this.unregistered = new Map();
    return out;
  }

  /** Puts back pairs whose write failed, unless newer notes of the same pair came meanwhile. */
  private restoreUnregistered(rows: readonly Unregistered[]): void {
    for (const r of rows) {
      const key = `${r.userId}:${r.infoHash.toString('hex')}`;
      const e = this.unregistered.get(key);
      if (e === undefined) {
        if (this.unregistered.size < UNREGISTERED_LIMIT) this.unregistered.set(key, r);
      } else if (r.updatedMs > e.updatedMs) e.updatedMs = r.updatedMs;
    }
  }

  private reapTick(): void {
    if (this.reaping !== undefined) return;
    this.reaping = this.reap()
      .catch((err: unknown) => {
        this.metrics.reaped('failures', 1);
        this.deps.logger.warn({ err }, 'unit3d writer: reaper round failed; the next round retries');
      })
      .finally(() => { this.reaping = undefined; });
  }

  /**
   * One reaper round (reaper.ts) at `nowMs`, with the unregistered info hashes noted since the
   * last batch. Run by the timer; public so a test can run a round at a chosen time.
   */
  async reap(nowMs = Date.now()): Promise<ReapResult> {
    const max = this.config.max_records_per_batch;
    return this.session.run(async (conn) => {
      const unregistered = this.takeUnregistered();
      try {
        const r = await reapRound(conn, {
          nowMs, peerLifetimeMs: this.deps.peerLifetimeMs, inactiveTtlMs: this.config.inactive_peer_ttl,
          maxRows: REAP_ROWS_PER_ROUND, chunk: chunkOf('peers', max),
        }, unregisteredUpserts(unregistered, chunkOf('unregistered', max)));
        this.metrics.reaped('rounds', 1);
        this.metrics.reaped('deactivated', r.deactivated);
        this.metrics.reaped('deleted', r.deleted);
        this.metrics.wrote('unregistered_info_hashes', unregistered.length);
        return r;
      } catch (err) {
        this.restoreUnregistered(unregistered);
        throw err;
      }
    });
  }

  /**
   * Totals as UNIT3D holds them, for `privtrak stats`: per user, users.uploaded/downloaded
   * (credited, whatever else the site added) beside the raw sums, seed time and completions of
   * the user's history rows; per torrent, the history rows. Users without history rows are
   * listed only when asked for by key. UNIT3D keeps no leech time: 0.
   */
  async totals(query: TotalsQuery): Promise<TotalsRow[]> {
    let userId: bigint | undefined;
    if (query.user !== undefined) {
      userId = siteUserIdOf(query.user);
      if (userId === undefined) return [];
    }
    const where = userId === undefined ? '' : 'WHERE h.user_id = ?';
    const args = userId === undefined ? [] : [userId.toString()];
    const sql = query.byTorrent
      ? `SELECT h.user_id, t.info_hash, h.torrent_id, h.uploaded, h.downloaded, h.actual_uploaded AS raw_up, h.actual_downloaded AS raw_down,
           h.seedtime AS seed, (h.completed_at IS NOT NULL) AS snatched
         FROM history h JOIN torrents t ON t.id = h.torrent_id ${where} ORDER BY h.user_id, h.torrent_id`
      : `SELECT u.id AS user_id, u.uploaded, u.downloaded, COALESCE(h.raw_up, 0) AS raw_up, COALESCE(h.raw_down, 0) AS raw_down,
           COALESCE(h.seed, 0) AS seed, COALESCE(h.snatched, 0) AS snatched
         FROM users u ${userId === undefined ? '' : 'LEFT '}JOIN (SELECT h.user_id, SUM(h.actual_uploaded) AS raw_up, SUM(h.actual_downloaded) AS raw_down,
           SUM(h.seedtime) AS seed, COUNT(h.completed_at) AS snatched FROM history h ${where} GROUP BY h.user_id) h ON h.user_id = u.id
         ${userId === undefined ? '' : 'WHERE u.id = ?'} ORDER BY u.id`;
    const params = !query.byTorrent && userId !== undefined ? [...args, ...args] : args;
    const rows = await this.session.run((conn) => rowsOf(conn, sql, params));
    return rows.map((r) => ({
      user: siteUserKey(big(r['user_id'])),
      infoHash: query.byTorrent ? Buffer.from(r['info_hash'] as Buffer) : undefined,
      uploaded: big(r['uploaded']),
      downloaded: big(r['downloaded']),
      rawUploaded: big(r['raw_up']),
      rawDownloaded: big(r['raw_down']),
      siteTorrentId: query.byTorrent ? big(r['torrent_id']) : undefined,
      seedTime: big(r['seed']),
      leechTime: 0n,
      snatched: big(r['snatched']),
    }));
  }

  /** Stops the reaper (waiting for a round in progress), then closes the connection. */
  async close(): Promise<void> {
    if (this.reapTimer !== undefined) clearInterval(this.reapTimer);
    this.reapTimer = undefined;
    await this.reaping;
    await this.session.close();
  }
}

/** Waits for every promise; rejects with the first failure once all have settled (none left unhandled). */
async function settleAll<T>(promises: ReadonlyArray<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** The rows of several queries sent at once, in order. */
async function queryAll(conn: Conn, sqls: Iterable<string>): Promise<Row[]> {
  const sent = [...sqls].map((sql) => rowsOf(conn, sql));
  return (await settleAll(sent)).flat();
}

async function rowsOf(conn: Conn, sql: string, args: unknown[] = []): Promise<Row[]> {
  const [r] = await conn.query(sql, args);
  return r as Row[];
}
