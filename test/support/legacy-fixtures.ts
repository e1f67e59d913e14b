/**
 * Data as privtrak wrote it before user keys (issue 11), for the migrate tests: the user was the
 * passkey's own 16 bytes. Journal records of version 2 (magic 0xA2, trailer "prk2": the layout of
 * today's records), checkpoints of version 2, SQL sinks at schema 1 (today's tables), the log
 * sink's flat state file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import Database from 'better-sqlite3';
import type { StatDelta } from '../../src/accounting/delta.js';
import { RECORD_SIZE, encodeRecord } from '../../src/accounting/delta-record.js';
import { formatDeltaLine } from '../../src/sinks/log-sink.js';
import { SqliteSink } from '../../src/sinks/sqlite-sink.js';
import { delta } from './deltas.js';

export const LEGACY_IH = Buffer.alloc(20, 0x3c);
export const LEGACY_PEER = Buffer.from('-qB4520-legacypeer01');

/** One counted announce of `passkey`'s user: `up` bytes credited, the peer's counters then at `total`. */
export function legacyDelta(seq: number, passkey: string, up: number, total: number, lastMs: number): StatDelta {
  return delta(seq, {
    user: Buffer.from(passkey, 'hex'), infoHash: LEGACY_IH, peerId: LEGACY_PEER, ip: '10.0.0.1', event: 'none',
    uploaded: total, downloaded: 0, left: 0, deltaUp: up, deltaDown: 0, creditUp: up, creditDown: 0, siteTorrentId: null,
    seedTime: 0, leechTime: 0, snatch: false, flags: 0, timeMs: lastMs, baseline: { uploaded: total, downloaded: 0, left: 0, lastMs },
  });
}

/** A version-2 journal segment holding `deltas`. */
export function writeLegacyJournal(dir: string, deltas: StatDelta[]): string {
  mkdirSync(dir, { recursive: true });
  const buf = Buffer.concat(deltas.map((d) => {
    const r = encodeRecord(d);
    r[0] = 0xa2;
    r.writeUInt32BE(0x7072_6b32, RECORD_SIZE - 4); // "prk2"
    return r;
  }));
  const path = join(dir, `journal-${String(deltas[0]!.seq).padStart(16, '0')}.bin`);
  writeFileSync(path, buf);
  return path;
}

/** A version-2 checkpoint at `seq` with the baselines of `deltas` (user = passkey bytes). */
export function writeLegacyCheckpoint(dir: string, file: string, seq: number, deltas: StatDelta[]): void {
  mkdirSync(dir, { recursive: true });
  const header = Buffer.alloc(32);
  header.writeUInt32BE(0x5054_434b, 0);
  header.writeUInt32BE(2, 4);
  header.writeDoubleBE(seq, 8);
  header.writeDoubleBE(1_700_000_000_000, 16);
  const entries = Buffer.concat(deltas.map((d) => {
    const e = Buffer.alloc(88);
    d.user.copy(e, 0);
    d.infoHash.copy(e, 16);
    d.peerId.copy(e, 36);
    e.writeDoubleBE(d.baseline!.uploaded, 56);
    e.writeDoubleBE(d.baseline!.downloaded, 64);
    e.writeDoubleBE(d.baseline!.left, 72);
    e.writeDoubleBE(d.baseline!.lastMs, 80);
    return e;
  }));
  const trailer = Buffer.alloc(16);
  trailer.writeUInt32BE(0x5054_4345, 0);
  trailer.writeUInt32BE(crc32(Buffer.concat([header, entries])) >>> 0, 4);
  trailer.writeDoubleBE(deltas.length, 8);
  writeFileSync(join(dir, file), Buffer.concat([header, entries, trailer]));
}

/** A schema-1 SQLite sink database with `deltas` applied (instance `default`). */
export async function writeLegacySqlite(path: string, deltas: StatDelta[], deltaLog = true): Promise<void> {
  const sink = new SqliteSink({ path, deltaLog });
  await sink.open();
  await sink.apply({ id: deltas.at(-1)!.seq, instance: 'default', deltas });
  await sink.close();
  const db = new Database(path);
  db.exec('DELETE FROM privtrak_schema_version; INSERT INTO privtrak_schema_version (version) VALUES (1)');
  db.close();
}

/** The log sink's file and its old, flat state file. */
export function writeLegacyLogSink(path: string, deltas: StatDelta[]): void {
  writeFileSync(path, deltas.map(formatDeltaLine).join(''));
  writeFileSync(`${path}.state`, JSON.stringify({ default: deltas.at(-1)!.seq }));
}
