/**
 * The UNIT3D writer's database half: the session and every transaction on UNIT3D's tables. It
 * runs on the writer's own thread (writer-thread.ts, writer-worker.ts), so a batch's decoding,
 * folding, SQL text and garbage cost the announce thread nothing; `thread: false` runs it in place.
 * It knows nothing of the announce thread's state: what it needs of it comes with each call
 * (writer-side.ts), and what the announce thread must hear (rows written, drops, gone ids) goes
 * back in the answer.
 *
 * A batch is one transaction on one connection (MysqlSession: deadlines, strict SQL mode):
 *   1. `START TRANSACTION; SELECT … FOR UPDATE` of the instance's row in privtrak_site_applied;
 *      deltas at or below its mark were applied by an earlier attempt and are skipped;
 *   2. the batch's users, torrents and peers rows are locked (writer-sql.ts): each peers row's
 *      state before the batch is read; which users and torrents still exist is what the counter
 *      UPDATEs matched (applyFast), and only when one is gone is the batch redone with locking
 *      reads of them (applyChecked: a torrent deleted before the flush gets no rows instead of
 *      failing history's foreign key forever);
 *   3. the deltas are folded per row (writer-fold.ts), the torrents' counters derived from each
 *      peers row's transition and history.active from the peers left active (writer-peers.ts);
 *   4. the writes, the new mark and COMMIT, in as few round trips as max_allowed_packet allows.
 * Any failure rolls the whole batch back and rejects: the flusher retries it, and a retry after a
 * commit whose answer was lost finds the mark moved and writes nothing twice.
 *
 * The reaper (reaper.ts) runs on the same session, so it and a batch never run at once (and
 * never deadlock each other).
 */
import { siteUserIdOf, siteUserKey } from '../../accounting/user-key.js';
import type { AdoptedBaseline, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import { unit3dAdoptable } from './writer-adopt.js';
import { MysqlSession, type Conn } from '../../sinks/mysql-session.js';
import type { Unit3dSiteConfig } from '../config.js';
import { ASSUME_EXISTING, decodeAnnounces, fold, pairKey, pruneGone, type Announce, type Decoded, type Folded, type PairKey } from './writer-fold.js';
import { applyTransitions, type PriorPeer } from './writer-peers.js';
import { chunkOf, historyUpserts, peersUpserts, SCRATCH_DDL, selectPeers, selectTorrents, selectUsers, torrentsUpdates, TORRENTS_UPDATE,
  unregisteredUpserts, usersUpdates, USERS_UPDATE, type Unregistered } from './writer-sql.js';
import { checkSiteSchema } from './writer-schema.js';
import { MARK_DDL, MARK_TABLE, ensureMarkRow, loadMark } from '../applied-mark.js';
import type { RecordSide } from './writer-side.js';
import { reapRound, type ReapResult } from './reaper.js';

type Row = Record<string, unknown>;

/** Rows deactivated (and deleted) per reaper round at most. */
const REAP_ROWS_PER_ROUND = 10_000;
/** Ids of gone users/torrents already reported (a bounded memory of what was said). */
const LOGGED_LIMIT = 10_000;

const big = (v: unknown): bigint => BigInt(v as string | number);

/** One batch as the writer's thread gets it. */
export interface ApplyInput {
  readonly instance: string;
  /** The batch's journal records (delta-record.ts), in seq order. */
  readonly records: Buffer;
  readonly side: RecordSide;
  /** Unregistered info hashes noted since the last write, written in the same transaction. */
  readonly unregistered: readonly Unregistered[];
}

/** What the announce thread hears of a batch: for its metrics and its log. */
export interface ApplyOutcome {
  /** False: every delta was at or below the mark; nothing was written (the unregistered pairs neither). */
  readonly applied: boolean;
  /** How it was committed (when applied): fast (no existence reads) or checked (something was gone: redone with them). */
  readonly path?: 'fast' | 'checked';
  /** Rows written per table, committed. */
  readonly written: Readonly<Record<string, number>>;
  /** Deltas or rows left out, per reason (privtrak_site_rows_dropped_total's labels). */
  readonly dropped: Readonly<Record<string, number>>;
  /** Users and torrents the site no longer has, not reported before: to log once. */
  readonly gone?: { readonly users: number[]; readonly torrents: number[]; readonly rows: number };
}

/** The writer's database half as its front (writer.ts) calls it: in place, or on its thread. */
export interface Unit3dWriterBackend {
  open(): Promise<void>;
  migrate(): Promise<void>;
  load(instance: string): Promise<SinkState>;
  apply(input: ApplyInput): Promise<ApplyOutcome>;
  reap(nowMs: number, unregistered: readonly Unregistered[]): Promise<ReapResult>;
  totals(query: TotalsQuery): Promise<TotalsRow[]>;
  adoptable(): Promise<AdoptedBaseline[]>;
  close(): Promise<void>;
}

export class Unit3dWriterCore implements Unit3dWriterBackend {
  private readonly session: MysqlSession;
  private readonly knownInstances = new Set<string>();
  private readonly loggedGone = new Set<string>();
  /** Largest SQL text per round trip: half the server's max_allowed_packet, at most 8 MB. */
  private packetBytes = 4 << 20;

  constructor(readonly config: Unit3dSiteConfig, readonly peerLifetimeMs: number) {
    this.session = new MysqlSession({ url: config.url, timeoutMs: config.timeout });
  }

  /** Checks the site's tables and creates privtrak's mark table if missing. */
  async open(): Promise<void> {
    await this.session.run(async (conn) => {
      await checkSiteSchema(conn);
      await conn.query(MARK_DDL);
      const [r] = await conn.query('SELECT @@max_allowed_packet AS m');
      const max = Number((r as Row[])[0]?.['m'] ?? 0);
      if (max > 0) this.packetBytes = Math.max(64 << 10, Math.min(8 << 20, Math.floor(max / 2)));
    });
  }

  async migrate(): Promise<void> {
    await this.session.run(async (conn) => { await conn.query(MARK_DDL); });
  }

  async load(instance: string): Promise<SinkState> {
    return this.session.run(async (conn) => ({ appliedThrough: await loadMark(conn, instance) }));
  }

  async apply(input: ApplyInput): Promise<ApplyOutcome> {
    return this.session.run(async (conn) => {
      await ensureMarkRow(conn, input.instance, this.knownInstances);
      try {
        return await this.applyLocked(conn, input);
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * The transaction, tried the fast way first: with every user and torrent of the batch still on
   * the site (the usual case) the existence reads are not needed, because the counter UPDATEs
   * say the same thing: their matched rows are the users and torrents that exist, and they lock
   * them. Only when one is gone (a count falls short, or history's foreign key refuses a row) is
   * the transaction rolled back and done again with the locking reads (applyChecked), which fold
   * the gone ones out. Both write the same rows when nothing is gone.
   */
  private async applyLocked(conn: Conn, input: ApplyInput): Promise<ApplyOutcome> {
    const begun = await this.begin(conn, input);
    if (begun === undefined) return { applied: false, written: {}, dropped: {} };
    const fast = await this.applyFast(conn, input, begun);
    if (fast !== undefined) return fast;
    await conn.query('ROLLBACK');
    const again = await this.begin(conn, input);
    if (again === undefined) return { applied: false, written: {}, dropped: {} };
    return this.applyChecked(conn, input, again);
  }

  /** Starts the batch's transaction: the scratch tables, the mark row locked, the deltas above it. Undefined: nothing above the mark (rolled back). */
  private async begin(conn: Conn, input: ApplyInput): Promise<Decoded | undefined> {
    const { instance } = input;
    const [results] = await conn.query(
      `SET time_zone = '+00:00'; ${SCRATCH_DDL.join('; ')}; START TRANSACTION; SELECT applied_through FROM ${MARK_TABLE} WHERE instance = ? FOR UPDATE`, [instance]);
    const all = results as unknown[];
    const mark = (all[all.length - 1] as Row[])[0];
    if (mark === undefined) {
      this.knownInstances.delete(instance);
      throw new Error(`unit3d writer: the mark row of instance "${instance}" vanished (was ${MARK_TABLE} emptied?); the batch will be retried`);
    }
    const decoded = decodeAnnounces(input.records, input.side, Number(mark['applied_through']));
    if (decoded.count === 0) {
      await conn.query('ROLLBACK');
      return undefined;
    }
    return decoded;
  }

  /**
   * The batch assuming every user and torrent exists: users first (every user of the batch, those
   * without credit with 0 and 0: looked up and locked), then the peers rows' states, the torrents'
   * counters, peers, history and the unregistered pairs. Undefined: something is gone; the caller
   * rolls back (nothing is committed here before the counts are checked).
   */
  private async applyFast(conn: Conn, input: ApplyInput, decoded: Decoded): Promise<ApplyOutcome | undefined> {
    const max = this.config.max_records_per_batch;
    const folded = fold(input.records, decoded.announces, ASSUME_EXISTING);
    const { userIds, pairs } = batchKeys(decoded.announces);
    const credits = new Map(folded.users);
    for (const id of userIds) if (!credits.has(id)) credits.set(id, { userId: id, uploaded: 0, downloaded: 0 });
    const users = this.send(conn, usersUpdates(credits.values(), chunkOf('users', max)));
    const peerRows = queryAll(conn, selectPeers([...pairs.values()], chunkOf('peers', max)));
    // Both settled before either is looked at: a failed one leaves no rejection unhandled.
    await settleAll<unknown>([users, peerRows]);
    if ((await users).get(USERS_UPDATE) !== credits.size) return undefined;
    applyTransitions((await peerRows).map(priorPeer), folded.peers, folded.torrents, folded.history);

    let matched: Map<string, number>;
    try {
      matched = await this.send(conn, rowWrites(folded, decoded, input.unregistered, max));
    } catch (err) {
      // A user or torrent deleted with nothing of it in the batch's counters: history's foreign key.
      if ((err as { errno?: number }).errno === ER_NO_REFERENCED_ROW_2) return undefined;
      throw err;
    }
    if ((matched.get(TORRENTS_UPDATE) ?? 0) !== folded.torrents.size) return undefined;
    await this.commit(conn, input.instance, decoded);
    return { ...outcome(folded, input.unregistered.length, decoded.notSiteUser), path: 'fast' };
  }

  /** The batch with the existence reads: what is gone is folded out (pruneGone), counted and logged once. */
  private async applyChecked(conn: Conn, input: ApplyInput, decoded: Decoded): Promise<ApplyOutcome> {
    const max = this.config.max_records_per_batch;
    // Which users and torrents exist (locked), and the peers rows' states before the batch.
    const { userIds, torrentIds, pairs } = batchKeys(decoded.announces);
    // The three locking reads go out at once (one after the other on the server, in this order:
    // users, torrents, peers), instead of a round trip each.
    const reads = settleAll([
      queryAll(conn, selectUsers([...userIds], chunkOf('users', max))),
      queryAll(conn, selectTorrents([...torrentIds], chunkOf('torrents', max))),
      queryAll(conn, selectPeers([...pairs.values()], chunkOf('peers', max))),
    ]);
    // Folded while the server answers the reads; what they show gone is dropped after (pruneGone).
    const assumed = fold(input.records, decoded.announces, ASSUME_EXISTING);
    const [userRows, torrentRows, peerRows] = await reads;
    const users = new Set<number>(userRows.map((r) => Number(r['id'])));
    const torrents = new Set<number>(torrentRows.map((r) => Number(r['id'])));
    const folded = pruneGone(assumed, input.records, decoded.announces, { users, torrents });
    applyTransitions(peerRows.map(priorPeer), folded.peers, folded.torrents, folded.history);

    function* writes(): Generator<string> {
      yield* usersUpdates(folded.users.values(), chunkOf('users', max));
      yield* rowWrites(folded, decoded, input.unregistered, max);
    }
    await this.send(conn, writes());
    await this.commit(conn, input.instance, decoded);
    const gone = folded.droppedUser + folded.droppedTorrent === 0 ? undefined
      : this.freshGone(userIds, users, torrentIds, torrents, folded.droppedUser + folded.droppedTorrent);
    return { ...outcome(folded, input.unregistered.length, decoded.notSiteUser), path: 'checked', ...(gone === undefined ? {} : { gone }) };
  }

  /** Only once every write succeeded: the mark and COMMIT (a failed one leaves the caller's ROLLBACK). */
  private async commit(conn: Conn, instance: string, decoded: Decoded): Promise<void> {
    await conn.query(`UPDATE ${MARK_TABLE} SET applied_through = ?, applied_at = CURRENT_TIMESTAMP WHERE instance = ?; COMMIT`,
      [decoded.through, instance]);
  }

  /** Gone ids not reported before (a deleted torrent's peers may keep reaching batches for a while): each is logged once. */
  private freshGone(userIds: Set<number>, users: Set<number>, torrentIds: Set<number>, torrents: Set<number>, rows: number): ApplyOutcome['gone'] {
    const fresh = (kind: string, ids: Set<number>, have: Set<number>) => [...ids].filter((id) => !have.has(id) && !this.loggedGone.has(`${kind}${id}`));
    const goneUsers = fresh('u', userIds, users);
    const goneTorrents = fresh('t', torrentIds, torrents);
    if (goneUsers.length + goneTorrents.length === 0) return undefined;
    if (this.loggedGone.size > LOGGED_LIMIT) this.loggedGone.clear();
    for (const id of goneUsers) this.loggedGone.add(`u${id}`);
    for (const id of goneTorrents) this.loggedGone.add(`t${id}`);
    return { users: goneUsers.slice(0, 20), torrents: goneTorrents.slice(0, 20), rows };
  }

  /**
   * Sends the statements in multi-statement groups of up to packetBytes, each group as soon as it
   * is built, without waiting for the one before: the server executes a group while the next is
   * being built (the client's work and the server's overlap instead of taking turns). Groups run in
   * order; if one fails, those after it may still run, but nothing is committed: this rejects once
   * every group has settled, and the caller rolls back. Returns the affected rows summed per
   * statement text for the counter UPDATEs (USERS_UPDATE, TORRENTS_UPDATE: the rows that matched).
   */
  private async send(conn: Conn, statements: Iterable<string>): Promise<Map<string, number>> {
    const sent: Array<Promise<void>> = [];
    const matched = new Map<string, number>();
    const count = (group: readonly string[], result: unknown): void => {
      // One result per statement when the text holds several, else the one result itself.
      const results = group.length > 1 ? (result as unknown[]) : [result];
      group.forEach((sql, i) => {
        if (sql !== USERS_UPDATE && sql !== TORRENTS_UPDATE) return;
        matched.set(sql, (matched.get(sql) ?? 0) + Number((results[i] as { affectedRows?: number }).affectedRows ?? 0));
      });
    };
    const flush = (group: string[]): void => {
      sent.push(conn.query(group.join(';\n')).then(([result]) => count(group, result)));
    };
    let group: string[] = [];
    let bytes = 0;
    for (const sql of statements) {
      if (group.length > 0 && bytes + sql.length + 2 > this.packetBytes) {
        flush(group);
        group = [];
        bytes = 0;
      }
      group.push(sql);
      bytes += sql.length + 2;
    }
    if (group.length > 0) flush(group);
    await settleAll(sent);
    return matched;
  }

  /** UNIT3D-Announce's last counters of each live peer (writer-adopt.ts), for the privtrak hook's first start. */
  async adoptable(): Promise<AdoptedBaseline[]> {
    return this.session.run((conn) => unit3dAdoptable(conn));
  }

  /** One reaper round (reaper.ts) at `nowMs`, with the unregistered info hashes noted since the last batch. */
  async reap(nowMs: number, unregistered: readonly Unregistered[]): Promise<ReapResult> {
    const max = this.config.max_records_per_batch;
    return this.session.run((conn) => reapRound(conn, {
      nowMs, peerLifetimeMs: this.peerLifetimeMs, inactiveTtlMs: this.config.inactive_peer_ttl,
      maxRows: REAP_ROWS_PER_ROUND, chunk: chunkOf('peers', max),
    }, unregisteredUpserts(unregistered, chunkOf('unregistered', max))));
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

  /** Closes the connection once queued operations are done. */
  async close(): Promise<void> {
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

async function rowsOf(conn: Conn, sql: string, args?: unknown[]): Promise<Row[]> {
  const [r] = await conn.query(sql, args);
  return r as Row[];
}

/** MySQL's "Cannot add or update a child row: a foreign key constraint fails". */
const ER_NO_REFERENCED_ROW_2 = 1452;

/** A peers row as the locking read returns it, as writer-peers.ts reads it. */
function priorPeer(r: Row): PriorPeer {
  return {
    userId: Number(r['user_id']), torrentId: Number(r['torrent_id']), peerIdLatin1: (r['peer_id'] as Buffer).toString('latin1'),
    active: Number(r['active']) === 1, seeder: Number(r['seeder']) === 1,
  };
}

/** What a committed batch wrote and dropped. */
function outcome(folded: Folded, unregistered: number, notSiteUser: number): ApplyOutcome {
  return {
    applied: true,
    written: {
      users: folded.users.size, torrents: folded.torrents.size, peers: folded.peers.size, history: folded.history.size,
      unregistered_info_hashes: unregistered,
    },
    dropped: { not_site_user: notSiteUser, no_torrent_id: folded.noTorrent, user_gone: folded.droppedUser, torrent_gone: folded.droppedTorrent },
  };
}

/** The users, torrents and (user, torrent) pairs a batch's announces name. */
function batchKeys(announces: readonly Announce[]): { userIds: Set<number>; torrentIds: Set<number>; pairs: Map<PairKey, { userId: number; torrentId: number }> } {
  const userIds = new Set<number>();
  const torrentIds = new Set<number>();
  const pairs = new Map<PairKey, { userId: number; torrentId: number }>();
  for (const a of announces) {
    userIds.add(a.userId);
    if (a.torrentId === null) continue;
    torrentIds.add(a.torrentId);
    pairs.set(pairKey(a.userId, a.torrentId), { userId: a.userId, torrentId: a.torrentId });
  }
  return { userIds, torrentIds, pairs };
}

/** Every write of a batch after the users' credits, in lock order: torrents, peers, history, unregistered pairs. */
function* rowWrites(folded: Folded, decoded: Decoded, unregistered: readonly Unregistered[], max: number): Generator<string> {
  yield* torrentsUpdates(folded.torrents.values(), chunkOf('torrents', max));
  yield* peersUpserts(folded.peers.values(), chunkOf('peers', max));
  yield* historyUpserts(folded.history.values(), (id) => decoded.immune.has(id), chunkOf('history', max));
  yield* unregisteredUpserts(unregistered, chunkOf('unregistered', max));
}
