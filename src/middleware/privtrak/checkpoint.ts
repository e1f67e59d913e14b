/**
 * Baseline checkpoints: every peer's baseline written to one local file, so the journal only
 * has to keep what came after it. Together they replace writing a baseline row to the sink
 * for every announce, which was most of the middleware's cost (BENCHMARKS.md).
 *
 * A checkpoint "at seq S" is written while announces go on (in slices of event-loop time,
 * work-slicer.ts), so it is fuzzy: an entry may already hold a state from after S. That is exact anyway,
 * because restoring replays every journal record above S in order, and a record carries its
 * peer's complete baseline afterwards (not a difference): each peer ends at the state of its
 * last record, or at the checkpoint's entry if it has none above S, in which case that entry
 * did not change during the write.
 *
 * Two generations are kept: `baselines.ckpt` and the one before it, `baselines.ckpt.prev`,
 * and the journal is kept back to the previous one (the hook prunes it up to
 * min(sink mark, previous checkpoint's seq)). So a damaged checkpoint loses nothing: `privtrak
 * recover` rebuilds it from the previous one and the journal (recovery.ts). A new one is
 * written as `baselines.ckpt.tmp` (fsynced when configured), the current one renamed to `.prev`,
 * the new one renamed into place, then the directory fsynced: a crash anywhere leaves a
 * complete current or previous checkpoint, with the journal that goes with it.
 *
 * File, big-endian:
 *   header 32 bytes: u32 magic "PTCK" | u32 version 3 | f64 seq | f64 written-at ms | u64 reserved
 *   entries of 88 bytes: user key[16] info_hash[20] peer_id[20] f64 uploaded f64 downloaded f64 left f64 last ms
 *   trailer 16 bytes: u32 magic "PTCE" | u32 CRC-32 of header and entries (version 1: 0, unchecked) | f64 entry count
 * Versions 1 and 2 have the passkey's bytes as the user: legacy data (accounting/legacy-data.ts),
 * which restoring and recovering refuse and `privtrak migrate` rekeys (rekeyCheckpointFile).
 * Counters are f64: exact for every integer up to 2^53, the bound the parser enforces.
 */
import { crc32 } from 'node:zlib';
import { closeSync, existsSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Baseline } from '../../accounting/delta.js';
import { nodeFs, replaceFileSync, type DurableFs } from '../../durable-fs.js';
import { LegacyDataError } from '../../accounting/legacy-data.js';
import { WorkSlicer, type SliceClock } from '../../work-slicer.js';

export const CHECKPOINT_FILE = 'baselines.ckpt';
export const PREVIOUS_CHECKPOINT_FILE = 'baselines.ckpt.prev';
const HEADER = 32;
const ENTRY = 88;
const TRAILER = 16;
const MAGIC = 0x5054_434b; // "PTCK"
const END = 0x5054_4345; // "PTCE"
const VERSION = 3;
/** The first version keyed by user keys; below it the user is the passkey. */
const FIRST_KEYED_VERSION = 3;

/** A checkpoint file that cannot be read whole: the operator is told which and what to do. */
export class CheckpointDamagedError extends Error {
  readonly code = 'CHECKPOINT_DAMAGED';
  constructor(readonly path: string, readonly why: string) {
    super(`${path}: ${why}`);
  }
}

/** What a checkpoint writer needs from the baseline store: its entries, one shard at a time. */
export interface ShardedBaselines {
  readonly shardCount: number;
  /** The slots in use in one shard. */
  shardSlots(index: number): Iterable<number>;
  /** Copies a slot's 56-byte key into `out` at `offset`. */
  copyKey(slot: number, out: Uint8Array, offset: number): void;
  read(slot: number): Baseline;
}

export interface CheckpointEntry {
  /** The store key: user (16) + info_hash (20) + peer_id (20). */
  readonly key: Buffer;
  readonly baseline: Baseline;
}

export interface Checkpoint {
  readonly seq: number;
  readonly entries: CheckpointEntry[];
  /** Epoch ms it was written at. */
  readonly writtenAtMs: number;
  /** true: written before user keys (the users are passkeys): to be rekeyed, never restored as is. */
  readonly legacy: boolean;
}

/** Reads the checkpoint in `dir` (`file`: the current one by default); undefined if there is none. Throws CheckpointDamagedError. */
export function readCheckpoint(dir: string, file = CHECKPOINT_FILE): Checkpoint | undefined {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  const buf = readFileSync(path);
  const version = buf.length >= 8 ? buf.readUInt32BE(4) : 0;
  if (buf.length < HEADER + TRAILER || buf.readUInt32BE(0) !== MAGIC || version < 1 || version > VERSION) {
    throw new CheckpointDamagedError(path, 'not a privtrak baseline checkpoint (bad header)');
  }
  const count = buf.readDoubleBE(buf.length - 8);
  if (buf.readUInt32BE(buf.length - TRAILER) !== END || buf.length !== HEADER + count * ENTRY + TRAILER) {
    throw new CheckpointDamagedError(path, `truncated or damaged (size ${buf.length}, ${count} entries announced)`);
  }
  if (version >= 2 && crc32(buf.subarray(0, buf.length - TRAILER)) !== buf.readUInt32BE(buf.length - TRAILER + 4)) {
    throw new CheckpointDamagedError(path, 'damaged (checksum mismatch)');
  }
  const entries: CheckpointEntry[] = new Array(count);
  for (let i = 0, off = HEADER; i < count; i++, off += ENTRY) {
    entries[i] = {
      key: buf.subarray(off, off + 56),
      baseline: {
        uploaded: buf.readDoubleBE(off + 56),
        downloaded: buf.readDoubleBE(off + 64),
        left: buf.readDoubleBE(off + 72),
        lastMs: buf.readDoubleBE(off + 80),
      },
    };
  }
  return { seq: buf.readDoubleBE(8), entries, writtenAtMs: buf.readDoubleBE(16), legacy: version < FIRST_KEYED_VERSION };
}

/** Whether the checkpoint file `file` in `dir` is a legacy one (version 1 or 2), from its header alone. */
export function isLegacyCheckpoint(dir: string, file: string): boolean {
  const path = join(dir, file);
  if (!existsSync(path)) return false;
  const header = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, header, 0, 8, 0) < 8) return false;
  } finally {
    closeSync(fd);
  }
  const version = header.readUInt32BE(4);
  return header.readUInt32BE(0) === MAGIC && version >= 1 && version < FIRST_KEYED_VERSION;
}

/** Throws LegacyDataError if either checkpoint in `dir` is from before user keys. */
export function refuseLegacyCheckpoints(dir: string): void {
  for (const file of [CHECKPOINT_FILE, PREVIOUS_CHECKPOINT_FILE]) {
    if (isLegacyCheckpoint(dir, file)) throw new LegacyDataError(join(dir, file));
  }
}

/** The seq a checkpoint file was written at, from its header alone; undefined if missing or unreadable. */
export function checkpointSeqOf(dir: string, file: string): number | undefined {
  try {
    const cp = readCheckpoint(dir, file);
    return cp?.seq;
  } catch {
    return undefined;
  }
}

export interface WriteOptions {
  /** fsync the file before the rename and the directory after (survive power loss, not only process crashes). */
  readonly fsync: boolean;
  /** Entries older than this are left out (they would be purged anyway). */
  readonly sinceMs: number;
  /** Called between shards and after each slice; return false to abandon the checkpoint (the previous one stays). */
  readonly stillValid?: () => boolean;
  readonly fs?: DurableFs;
  /** The slices' clock (work-slicer.ts; tests give their own). */
  readonly clock?: SliceClock;
}

/**
 * Writes a checkpoint at `seq` in slices of event-loop time (work-slicer.ts) so announces keep
 * flowing, and moves the one it replaces to `.prev`. Resolves true when the new file is in place,
 * false if `stillValid` called it off.
 *
 * Why slices, not a shard per turn: a shard is 1/shard_count of the baselines, so its time grows
 * with the peers: at 100,000 peers and 256 shards a shard took 0.4 ms warm and up to 12 ms on the
 * first checkpoint (code not yet optimised), and in a CPU profile of a UDP tracker at half its
 * maximum the checkpoint slowed every turn for ~300 ms (bench/open-loop.sh PROFILE=1, BENCHMARKS.md).
 * A slice is 0.5 ms whatever the store's size, and while the tracker is busy slices take at most
 * a tenth of the time. The walk may pause inside a shard: slots never move, so that is as exact
 * as pausing between shards (see above).
 */
export async function writeCheckpoint(dir: string, seq: number, store: ShardedBaselines, opts: WriteOptions): Promise<boolean> {
  const fs = opts.fs ?? nodeFs;
  const tmp = join(dir, `${CHECKPOINT_FILE}.tmp`);
  const fd = openSync(tmp, 'w');
  let ok = false;
  const slicer = new WorkSlicer(undefined, opts.clock);
  try {
    const header = Buffer.alloc(HEADER);
    header.writeUInt32BE(MAGIC, 0);
    header.writeUInt32BE(VERSION, 4);
    header.writeDoubleBE(seq, 8);
    header.writeDoubleBE(Date.now(), 16);
    writeSync(fd, header);
    let crc = crc32(header);
    let count = 0;
    let chunk = Buffer.allocUnsafe(64 * ENTRY);
    const put = (bytes: number) => {
      writeSync(fd, chunk, 0, bytes);
      crc = crc32(chunk.subarray(0, bytes), crc);
    };
    for (let shard = 0; shard < store.shardCount; shard++) {
      if (shard > 0 && opts.stillValid && !opts.stillValid()) return false;
      let used = 0;
      for (const slot of store.shardSlots(shard)) {
        if (slicer.due()) {
          await slicer.nextTurn();
          if (opts.stillValid && !opts.stillValid()) return false;
        }
        const b = store.read(slot);
        if (b.lastMs < opts.sinceMs) continue;
        if (used + ENTRY > chunk.length) {
          put(used);
          used = 0;
          if (chunk.length < 1 << 20) chunk = Buffer.allocUnsafe(chunk.length * 2);
        }
        store.copyKey(slot, chunk, used);
        chunk.writeDoubleBE(b.uploaded, used + 56);
        chunk.writeDoubleBE(b.downloaded, used + 64);
        chunk.writeDoubleBE(b.left, used + 72);
        chunk.writeDoubleBE(b.lastMs, used + 80);
        used += ENTRY;
        count++;
      }
      if (used > 0) put(used);
    }
    if (opts.stillValid && !opts.stillValid()) return false;
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32BE(END, 0);
    trailer.writeUInt32BE(crc >>> 0, 4);
    trailer.writeDoubleBE(count, 8);
    writeSync(fd, trailer);
    if (opts.fsync) fs.fsyncSync(fd, tmp);
    ok = true;
  } finally {
    fs.closeSync(fd, tmp);
    if (!ok && existsSync(tmp)) unlinkSync(tmp);
  }
  const current = join(dir, CHECKPOINT_FILE);
  if (existsSync(current)) fs.renameSync(current, join(dir, PREVIOUS_CHECKPOINT_FILE));
  fs.renameSync(tmp, current);
  // The renames themselves must reach the disk too: fsync the directory.
  if (opts.fsync) fs.fsyncDirSync(dir);
  return true;
}

/**
 * `privtrak migrate`: rewrites a legacy checkpoint file with every entry's user rekeyed, at the same
 * seq. Two legacy users that become one user may both have a baseline for the same (info_hash,
 * peer_id) — a client that went on under a new passkey — and the later one (last ms) is kept: it is
 * that client's latest state. Written as a new file, then renamed over the old one: a crash leaves
 * the old file or the new one, and migrate simply runs again. Returns false if the file is not legacy.
 */
export function rekeyCheckpointFile(dir: string, file: string, rekey: (user: Buffer) => Buffer, fsync: boolean, fs: DurableFs = nodeFs): boolean {
  if (!isLegacyCheckpoint(dir, file)) return false;
  const cp = readCheckpoint(dir, file);
  if (cp === undefined || !cp.legacy) return false;
  const byKey = new Map<string, CheckpointEntry>();
  for (const e of cp.entries) {
    const key = Buffer.concat([rekey(e.key.subarray(0, 16)), e.key.subarray(16)]);
    const id = key.toString('latin1');
    const had = byKey.get(id);
    if (had === undefined || had.baseline.lastMs < e.baseline.lastMs) byKey.set(id, { key, baseline: e.baseline });
  }
  const entries = [...byKey.values()];
  const buf = Buffer.alloc(HEADER + entries.length * ENTRY + TRAILER);
  buf.writeUInt32BE(MAGIC, 0);
  buf.writeUInt32BE(VERSION, 4);
  buf.writeDoubleBE(cp.seq, 8);
  buf.writeDoubleBE(cp.writtenAtMs, 16);
  let off = HEADER;
  for (const e of entries) {
    e.key.copy(buf, off);
    buf.writeDoubleBE(e.baseline.uploaded, off + 56);
    buf.writeDoubleBE(e.baseline.downloaded, off + 64);
    buf.writeDoubleBE(e.baseline.left, off + 72);
    buf.writeDoubleBE(e.baseline.lastMs, off + 80);
    off += ENTRY;
  }
  buf.writeUInt32BE(END, off);
  buf.writeUInt32BE(crc32(buf.subarray(0, off)) >>> 0, off + 4);
  buf.writeDoubleBE(entries.length, off + 8);
  // The caller (rekeyJournalDir) fsyncs the directory once for every file it replaced.
  replaceFileSync(join(dir, file), buf, fsync, fs);
  return true;
}
