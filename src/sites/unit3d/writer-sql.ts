/**
 * The UNIT3D writer's statements as SQL text, one builder per table, each as UNIT3D-Announce
 * writes it (../shared/sites/README.md A.2) with the differences said where they are.
 *
 * Rows are sorted by primary key before they are written: InnoDB locks rows in the order a
 * statement reaches them, and two transactions taking the same rows in the same order queue
 * instead of deadlocking (UNIT3D-Announce sorts for the same reason, commit 11bc274).
 *
 * Statements are chunked at UNIT3D-Announce's record counts per table, floor(65,535 / values per
 * record) (README A.1), or at `max_records_per_batch` when lower. Values are written into the text
 * rather than bound (as the MySQL sink does: integers, hex literals and escaped agent strings
 * only), so no statement holds a placeholder, and none holds more values than UNIT3D-Announce's.
 *
 * `VALUES(col)` rather than row aliases: MariaDB has none.
 */
import mysql from 'mysql2/promise';
import type { HistoryRow, PeerRow, TorrentRow, UserCredit } from './writer-fold.js';

/** Records per statement: floor(65,535 / values per record) as UNIT3D-Announce computes them. */
export const RECORDS_PER_STATEMENT = { users: 7281, history: 4095, peers: 4369, torrents: 4369, unregistered: 16383 } as const;
export type WrittenTable = keyof typeof RECORDS_PER_STATEMENT;

/** The record count for a table under `max_records_per_batch` (0: UNIT3D-Announce's). */
export function chunkOf(table: WrittenTable, maxRecords: number): number {
  const limit = RECORDS_PER_STATEMENT[table];
  return maxRecords > 0 ? Math.min(maxRecords, limit) : limit;
}

const hex = (b: Buffer) => `X'${b.toString('hex')}'`;
const bool = (v: boolean) => (v ? '1' : '0');
export const int = (n: number): string => {
  // Never a fraction or an exponent in the text: MySQL would read it as a DOUBLE and round.
  if (!Number.isInteger(n) || Math.abs(n) >= 1e21) throw new RangeError(`unit3d writer: ${n} is not an integer`);
  return String(n);
};

/** A TIMESTAMP/DATETIME literal in UTC (the writer's session runs with time_zone '+00:00'), whole seconds. */
export function utc(ms: number): string {
  // A batch's announces fall in a few seconds: the last second's text is kept (a Date and its
  // ISO string per row were a tenth of a batch's client time in the benchmark).
  const s = Math.floor(ms / 1000);
  if (s !== lastSecond) {
    lastSecond = s;
    lastText = `'${new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ')}'`;
  }
  return lastText;
}
let lastSecond = Number.NaN;
let lastText = '';

/**
 * One statement per chunk, built when asked for: the writer sends a statement as soon as it is
 * built, so the server executes one while the next is being written (writer.ts, `send`).
 */
function* chunked<T>(rows: readonly T[], chunk: number, build: (part: readonly T[]) => string): Generator<string> {
  for (let i = 0; i < rows.length; i += chunk) yield build(rows.slice(i, i + chunk));
}

const byNumber = (a: number, b: number) => a - b;
const byPair = (a: { userId: number; torrentId: number }, b: { userId: number; torrentId: number }) => a.userId - b.userId || a.torrentId - b.torrentId;

// ---- reads (locking) ----------------------------------------------------------------------------

/** Locks the batch's users that exist (FOR UPDATE: their totals are about to change) and names them. */
export function selectUsers(ids: readonly number[], chunk: number): Generator<string> {
  return chunked([...ids].sort(byNumber), chunk, (part) => `SELECT id FROM users WHERE id IN (${part.map(int).join(',')}) ORDER BY id FOR UPDATE`);
}

/** Locks the batch's torrents that exist: their counters change, and none may be deleted under history's foreign key meanwhile. */
export function selectTorrents(ids: readonly number[], chunk: number): Generator<string> {
  return chunked([...ids].sort(byNumber), chunk, (part) => `SELECT id FROM torrents WHERE id IN (${part.map(int).join(',')}) ORDER BY id FOR UPDATE`);
}

/** Every peers row of the batch's (user, torrent) pairs, locked: the state each row is in before the batch. */
export function selectPeers(pairs: ReadonlyArray<{ userId: number; torrentId: number }>, chunk: number): Generator<string> {
  return chunked([...pairs].sort(byPair), chunk, (part) =>
    `SELECT user_id, torrent_id, peer_id, active, seeder FROM peers WHERE (user_id, torrent_id) IN (${part.map((p) => `(${int(p.userId)},${int(p.torrentId)})`).join(',')}) FOR UPDATE`);
}

// ---- writes: the users' and torrents' counters ----------------------------------------------------

/**
 * The writer's scratch tables, created in its own session (TEMPORARY: no other session sees them,
 * the site's schema is not touched; MEMORY: nothing of them reaches InnoDB's logs). A chunk of
 * counter deltas is inserted into one and joined to the site's table by one UPDATE: MariaDB parses
 * a multi-row VALUES list far faster than the derived table of one `SELECT … UNION ALL` per row
 * this replaced (about 25–30 → 16–20 µs a row, bench/counter-update-forms.mjs), and
 * a table is emptied before every chunk, so it never holds more than one chunk (far below
 * max_heap_table_size). Created before the batch's transaction: CREATE TEMPORARY TABLE does not
 * commit, but MySQL refuses it inside a transaction under enforce_gtid_consistency.
 */
export const SCRATCH_DDL = [
  'CREATE TEMPORARY TABLE IF NOT EXISTS privtrak_user_credits (id int unsigned NOT NULL PRIMARY KEY, up bigint unsigned NOT NULL,'
    + ' down bigint unsigned NOT NULL) ENGINE=MEMORY',
  'CREATE TEMPORARY TABLE IF NOT EXISTS privtrak_torrent_deltas (id int unsigned NOT NULL PRIMARY KEY, ds int NOT NULL, dl int NOT NULL,'
    + ' dc int NOT NULL, db bigint NOT NULL, at datetime NOT NULL) ENGINE=MEMORY',
] as const;

/**
 * users.uploaded/downloaded += the credited deltas. An UPDATE joined to the batch's rows, not
 * UNIT3D-Announce's INSERT … ON DUPLICATE KEY UPDATE with dummy values: it never creates a user,
 * and needs no value for the NOT NULL columns without default that strict mode asks of an INSERT
 * (their list changes between UNIT3D versions). Its affected rows (mysql2 sets CLIENT_FOUND_ROWS:
 * rows matched, changed or not) are the chunk's users that exist, locked.
 */
export const USERS_UPDATE = 'UPDATE users u JOIN privtrak_user_credits d ON u.id = d.id SET u.uploaded = u.uploaded + d.up, u.downloaded = u.downloaded + d.down';

/** Per chunk of users (sorted by id): empty the scratch table, fill it, USERS_UPDATE. A user with 0 and 0 is only looked up and locked. */
export function usersUpdates(rows: Iterable<UserCredit>, chunk: number): Generator<string> {
  const sorted = [...rows].sort((a, b) => a.userId - b.userId);
  return chunkedTriples(sorted, chunk, 'privtrak_user_credits', USERS_UPDATE, (r) => `(${int(r.userId)},${int(r.uploaded)},${int(r.downloaded)})`);
}

/**
 * torrents: seeders/leechers/times_completed/balance += deltas, updated_at = the batch's last
 * announce. An UPDATE for the same reason as users: a torrent deleted meanwhile is not recreated.
 * Affected rows: the chunk's torrents that exist, locked.
 */
export const TORRENTS_UPDATE = 'UPDATE torrents t JOIN privtrak_torrent_deltas d ON t.id = d.id SET t.seeders = t.seeders + d.ds, t.leechers = t.leechers + d.dl,'
  + ' t.times_completed = t.times_completed + d.dc, t.balance = t.balance + d.db, t.updated_at = d.at';

export function torrentsUpdates(rows: Iterable<TorrentRow>, chunk: number): Generator<string> {
  const sorted = [...rows].sort((a, b) => a.torrentId - b.torrentId);
  return chunkedTriples(sorted, chunk, 'privtrak_torrent_deltas', TORRENTS_UPDATE,
    (r) => `(${int(r.torrentId)},${int(r.seeders)},${int(r.leechers)},${int(r.timesCompleted)},${int(r.balance)},${utc(r.updatedMs)})`);
}

function* chunkedTriples<T>(rows: readonly T[], chunk: number, scratch: string, update: string, values: (row: T) => string): Generator<string> {
  for (let i = 0; i < rows.length; i += chunk) {
    yield `DELETE FROM ${scratch}`;
    yield `INSERT INTO ${scratch} VALUES ${rows.slice(i, i + chunk).map(values).join(',')}`;
    yield update;
  }
}

const PEERS_HEAD = 'INSERT INTO peers (peer_id, ip, port, agent, uploaded, downloaded, `left`, active, seeder, visible, created_at, updated_at, torrent_id, user_id, connectable) VALUES ';
// connectable is not ours to know (privtrak does not probe peers): an existing row keeps its value.
const PEERS_TAIL = ' ON DUPLICATE KEY UPDATE ip = VALUES(ip), port = VALUES(port), agent = VALUES(agent), uploaded = VALUES(uploaded),'
  + ' downloaded = VALUES(downloaded), `left` = VALUES(`left`), active = VALUES(active), seeder = VALUES(seeder), visible = VALUES(visible),'
  + ' updated_at = VALUES(updated_at)';

/** peers: each row's last state in the batch. */
export function peersUpserts(rows: Iterable<PeerRow>, chunk: number): Generator<string> {
  const sorted = [...rows].sort((a, b) => byPair(a, b) || Buffer.compare(a.peerId, b.peerId));
  return chunked(sorted, chunk, (part) => PEERS_HEAD + part.map((p) =>
    `(${hex(p.peerId)},${hex(p.ip)},${int(p.port)},${mysql.escape(p.agent)},${int(p.uploaded)},${int(p.downloaded)},${int(p.left)},`
    + `${bool(p.active)},${bool(p.left === 0)},${bool(p.visible)},${utc(p.createdMs)},${utc(p.updatedMs)},${int(p.torrentId)},${int(p.userId)},0)`).join(',') + PEERS_TAIL);
}

const HISTORY_HEAD = 'INSERT INTO history (user_id, torrent_id, agent, uploaded, actual_uploaded, client_uploaded, downloaded, actual_downloaded,'
  + ' client_downloaded, seeder, active, seedtime, immune, created_at, updated_at, completed_at) VALUES ';
// seedtime: the exact seconds privtrak counted, added (UNIT3D-Announce estimates them in SQL from
// the stored updated_at; UNIT3D's hit-and-run crons read the column as a total, so a sum reads right).
const HISTORY_TAIL = ' ON DUPLICATE KEY UPDATE agent = VALUES(agent),'
  + ' uploaded = uploaded + VALUES(uploaded), actual_uploaded = actual_uploaded + VALUES(actual_uploaded), client_uploaded = VALUES(client_uploaded),'
  + ' downloaded = downloaded + VALUES(downloaded), actual_downloaded = actual_downloaded + VALUES(actual_downloaded), client_downloaded = VALUES(client_downloaded),'
  + ' seedtime = seedtime + VALUES(seedtime), updated_at = VALUES(updated_at), seeder = VALUES(seeder), active = VALUES(active),'
  + ' immune = (immune = TRUE AND VALUES(immune) = TRUE), completed_at = COALESCE(completed_at, VALUES(completed_at))';

/** history per (user, torrent): credited and raw sums, last client totals, exact seed time, completed_at once. */
export function historyUpserts(rows: Iterable<HistoryRow>, immune: (userId: number) => boolean, chunk: number): Generator<string> {
  const sorted = [...rows].sort(byPair);
  return chunked(sorted, chunk, (part) => HISTORY_HEAD + part.map((h) =>
    `(${int(h.userId)},${int(h.torrentId)},${mysql.escape(h.agent)},${int(h.uploaded)},${int(h.actualUploaded)},${int(h.clientUploaded)},`
    + `${int(h.downloaded)},${int(h.actualDownloaded)},${int(h.clientDownloaded)},${bool(h.seeder)},${bool(h.active)},${int(h.seedtime)},`
    + `${bool(immune(h.userId))},${utc(h.createdMs)},${utc(h.updatedMs)},${h.completedMs === null ? 'NULL' : utc(h.completedMs)})`).join(',') + HISTORY_TAIL);
}

export interface Unregistered {
  readonly userId: number;
  readonly infoHash: Buffer;
  readonly createdMs: number;
  updatedMs: number;
}

/**
 * unregistered_info_hashes: announces of known users for info hashes the site does not have.
 * INSERT … SELECT from the rows that name an existing user: a user deleted since the announce is
 * left out rather than failing the statement (UNIT3D may key the table to users).
 */
export function unregisteredUpserts(rows: Iterable<Unregistered>, chunk: number): Generator<string> {
  const sorted = [...rows].sort((a, b) => Buffer.compare(a.infoHash, b.infoHash) || a.userId - b.userId);
  return chunked(sorted, chunk, (part) => {
    // The derived columns are named apart from the table's: ON DUPLICATE KEY UPDATE of an
    // INSERT … SELECT would find `updated_at` ambiguous otherwise.
    const derived = part.map((u, i) => (i === 0
      ? `SELECT ${int(u.userId)} AS uid, ${hex(u.infoHash)} AS ih, ${utc(u.createdMs)} AS ca, ${utc(u.updatedMs)} AS ua`
      : `SELECT ${int(u.userId)},${hex(u.infoHash)},${utc(u.createdMs)},${utc(u.updatedMs)}`)).join(' UNION ALL ');
    return `INSERT INTO unregistered_info_hashes (user_id, info_hash, created_at, updated_at) SELECT d.uid, d.ih, d.ca, d.ua FROM (${derived}) d`
      + ' WHERE d.uid IN (SELECT id FROM users) ORDER BY d.ih, d.uid ON DUPLICATE KEY UPDATE updated_at = VALUES(updated_at)';
  });
}
