/**
 * The MySQL sink's writes as SQL text: a folded batch (aggregate.ts) becomes multi-row
 * `INSERT ... ON DUPLICATE KEY UPDATE` statements of at most `chunk` rows each.
 *
 * Rows are written in primary-key order (aggregate.ts folds them so). InnoDB locks each row as it upserts
 * it; two trackers (two instances) writing overlapping users in different orders could each hold
 * a row the other waits for, a deadlock that fails one batch. In key order every transaction takes
 * its locks in the same order, so they queue instead (UNIT3D-Announce and Ocelot sort for the same
 * reason).
 *
 * Values are written into the text, not bound: they are ours and of three kinds only — integers
 * (JS numbers up to 2^53, printed exactly in decimal), binary ids (hex literals X'…') and, in the
 * delta log, an IP and an event name (escaped). Binding 12 values × 10,000 rows through mysql2's
 * placeholder formatter costs more than the statement itself. `VALUES(col)` rather than MySQL 8's
 * row alias: MariaDB has no row alias, and MySQL 8 still accepts VALUES() there.
 */
import mysql from 'mysql2/promise';
import type { StatDelta } from '../accounting/delta.js';
import type { Aggregate } from './aggregate.js';

const hex = (b: Buffer) => `X'${b.toString('hex')}'`;
const int = (n: number) => {
  // Never a fraction or an exponent in the text: MySQL would read it as a DOUBLE and round. An
  // integer-valued double (a batch's sum may pass 2^53) prints as its exact decimal value below 1e21.
  if (!Number.isInteger(n) || Math.abs(n) >= 1e21) throw new RangeError(`mysql sink: ${n} is not an integer`);
  return String(n);
};
const intOrNull = (n: number | null) => (n === null ? 'NULL' : int(n));

function chunked<T>(rows: readonly T[], chunk: number, head: string, row: (r: T) => string, tail: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += chunk) {
    const parts: string[] = [];
    for (let j = i; j < Math.min(rows.length, i + chunk); j++) parts.push(row(rows[j]!));
    out.push(`${head}${parts.join(',')}${tail}`);
  }
  return out;
}

const TORRENT_HEAD = `INSERT INTO privtrak_torrent_stats (user_id, info_hash, uploaded, downloaded, raw_uploaded, raw_downloaded,
  site_torrent_id, seed_time, leech_time, snatched, first_seen_ms, last_seen_ms) VALUES `;
const TORRENT_TAIL = ` ON DUPLICATE KEY UPDATE
  uploaded = uploaded + VALUES(uploaded), downloaded = downloaded + VALUES(downloaded),
  raw_uploaded = raw_uploaded + VALUES(raw_uploaded), raw_downloaded = raw_downloaded + VALUES(raw_downloaded),
  site_torrent_id = COALESCE(VALUES(site_torrent_id), site_torrent_id),
  seed_time = seed_time + VALUES(seed_time), leech_time = leech_time + VALUES(leech_time),
  snatched = GREATEST(snatched, VALUES(snatched)),
  first_seen_ms = LEAST(first_seen_ms, VALUES(first_seen_ms)), last_seen_ms = GREATEST(last_seen_ms, VALUES(last_seen_ms))`;

const USER_HEAD = `INSERT INTO privtrak_user_stats (user_id, uploaded, downloaded, raw_uploaded, raw_downloaded, seed_time, leech_time,
  first_seen_ms, last_seen_ms) VALUES `;
const USER_TAIL = ` ON DUPLICATE KEY UPDATE
  uploaded = uploaded + VALUES(uploaded), downloaded = downloaded + VALUES(downloaded),
  raw_uploaded = raw_uploaded + VALUES(raw_uploaded), raw_downloaded = raw_downloaded + VALUES(raw_downloaded),
  seed_time = seed_time + VALUES(seed_time), leech_time = leech_time + VALUES(leech_time),
  first_seen_ms = LEAST(first_seen_ms, VALUES(first_seen_ms)), last_seen_ms = GREATEST(last_seen_ms, VALUES(last_seen_ms))`;

const LOG_HEAD = `INSERT INTO privtrak_delta_log (instance, seq, user_id, info_hash, peer_id, ip, port, event, uploaded, downloaded,
  left_bytes, delta_up, delta_down, credit_up, credit_down, site_torrent_id, seed_time, leech_time, snatch, flags, time_ms) VALUES `;

export function torrentUpserts(agg: Aggregate, chunk: number): string[] {
  return chunked(agg.torrents, chunk, TORRENT_HEAD, (r) =>
    `(${hex(r.user)},${hex(r.infoHash)},${int(r.uploaded)},${int(r.downloaded)},${int(r.rawUploaded)},${int(r.rawDownloaded)},`
    + `${intOrNull(r.siteTorrentId)},${int(r.seedTime)},${int(r.leechTime)},${int(r.snatched)},${int(r.firstMs)},${int(r.lastMs)})`, TORRENT_TAIL);
}

export function userUpserts(agg: Aggregate, chunk: number): string[] {
  return chunked(agg.users, chunk, USER_HEAD, (r) =>
    `(${hex(r.user)},${int(r.uploaded)},${int(r.downloaded)},${int(r.rawUploaded)},${int(r.rawDownloaded)},`
    + `${int(r.seedTime)},${int(r.leechTime)},${int(r.firstMs)},${int(r.lastMs)})`, USER_TAIL);
}

/** The raw delta log: plain INSERTs (seqs above the mark are new by construction). */
export function deltaLogInserts(instance: string, deltas: readonly StatDelta[], chunk: number): string[] {
  const inst = mysql.escape(instance);
  return chunked(deltas, chunk, LOG_HEAD, (d) =>
    `(${inst},${int(d.seq)},${hex(d.user)},${hex(d.infoHash)},${hex(d.peerId)},${mysql.escape(d.ip)},${int(d.port)},${mysql.escape(d.event)},`
    + `${int(d.uploaded)},${int(d.downloaded)},${int(d.left)},${int(d.deltaUp)},${int(d.deltaDown)},${int(d.creditUp)},${int(d.creditDown)},`
    + `${intOrNull(d.siteTorrentId)},${int(d.seedTime)},${int(d.leechTime)},${d.snatch ? 1 : 0},${int(d.flags)},${int(d.timeMs)})`, '');
}
