/**
 * Reading what a `privtrak serve` child process counted, from the outside: the `stats` command
 * (as an operator runs it) and the sink's delta log (one row per counted announce, written when
 * the sink has `delta_log: true`), read straight from SQLite or PostgreSQL.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { MAIN } from './tracker-process.js';

const run = promisify(execFile);

/** The sink block of a privtrak hook's options, as the tests write it. */
export type SinkSpec =
  | { name: 'sqlite'; path: string }
  | { name: 'postgres'; url: string; schema: string };

/** One line of `privtrak stats --json --detail` (with `--by-torrent`: also info_hash and site_torrent_id). */
export interface StatsRow {
  /** A user without a site ID: its key's hex (a keyed hash of the passkey). */
  user?: string;
  /** A site user (the registry's site ID). */
  site_user_id?: number;
  info_hash?: string;
  uploaded: number;
  downloaded: number;
  seed_time: number;
  leech_time: number;
  snatched: number;
  raw_uploaded: number;
  raw_downloaded: number;
  site_torrent_id?: number | null;
}

/**
 * Runs `privtrak stats --config FILE --json --detail [--by-torrent]` and returns its lines as
 * text (for byte-for-byte comparison) and parsed. Byte counts stay below 2^53 here, so
 * JSON.parse reads them exactly.
 */
export interface StatsOutput {
  text: string;
  rows: StatsRow[];
}

export async function readStats(configPath: string, byTorrent = false): Promise<StatsOutput> {
  const args = [MAIN, 'stats', '--config', configPath, '--json', '--detail', ...(byTorrent ? ['--by-torrent'] : [])];
  const { stdout } = await run(process.execPath, args, { encoding: 'utf8', timeout: 20_000 });
  const text = stdout.trim();
  return { text, rows: text === '' ? [] : text.split('\n').map((l) => JSON.parse(l) as StatsRow) };
}

/** One row of privtrak_delta_log: one counted announce. */
export interface DeltaLogRow {
  seq: number;
  user: string;
  /** The peer_id as latin1 text: its first bytes name the client (-qB4520-, A2-1-36-0-). */
  peerId: string;
  event: string;
  uploaded: number;
  downloaded: number;
  left: number;
  deltaUp: number;
  deltaDown: number;
  snatch: boolean;
  flags: number;
}

const DELTA_LOG_SQL = `SELECT seq, user_id, peer_id, event, uploaded, downloaded, left_bytes, delta_up, delta_down, snatch, flags
  FROM privtrak_delta_log ORDER BY seq`;

type RawDeltaRow = Record<'seq' | 'uploaded' | 'downloaded' | 'left_bytes' | 'delta_up' | 'delta_down' | 'snatch' | 'flags', number | string | bigint>
  & { user_id: Buffer; peer_id: Buffer; event: string };

function toDeltaRow(r: RawDeltaRow): DeltaLogRow {
  return {
    seq: Number(r.seq), user: r.user_id.toString('hex'), peerId: r.peer_id.toString('latin1'), event: r.event,
    uploaded: Number(r.uploaded), downloaded: Number(r.downloaded), left: Number(r.left_bytes),
    deltaUp: Number(r.delta_up), deltaDown: Number(r.delta_down), snatch: Number(r.snatch) !== 0, flags: Number(r.flags),
  };
}

/** Every row of the sink's delta log, in seq order ([] before the sink has created it). */
export async function readDeltaLog(sink: SinkSpec): Promise<DeltaLogRow[]> {
  if (sink.name === 'sqlite') {
    let db: Database.Database;
    try {
      db = new Database(sink.path, { readonly: true, fileMustExist: true });
    } catch {
      return [];
    }
    try {
      db.pragma('busy_timeout = 5000');
      return (db.prepare(DELTA_LOG_SQL).all() as RawDeltaRow[]).map(toDeltaRow);
    } catch (err) {
      if (/no such table/.test((err as Error).message)) return [];
      throw err;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: sink.url, options: `-c search_path=${sink.schema}` });
  await client.connect();
  try {
    return (await client.query<RawDeltaRow>(DELTA_LOG_SQL)).rows.map(toDeltaRow);
  } finally {
    await client.end();
  }
}
