/**
 * Baseline checkpoints: every peer's baseline written to one local file, so the journal only
 * has to keep what came after it. Together they replace writing a baseline row to the sink
 * for every announce, which was most of the middleware's cost (BENCHMARKS.md).
 *
 * A checkpoint "at seq S" is written while announces go on (one shard per event-loop turn),
 * so it is fuzzy: an entry may already hold a state from after S. That is exact anyway,
 * because restoring replays every journal record above S in order, and a record carries its
 * peer's complete baseline afterwards (not a difference): each peer ends at the state of its
 * last record, or at the checkpoint's entry if it has none above S, in which case that entry
 * did not change during the write. Hence the journal is pruned only up to min(S, sink mark).
 *
 * File: `baselines.ckpt`, written as `baselines.ckpt.tmp` and renamed when complete (a crash
 * mid-write leaves the previous checkpoint). Big-endian:
 *   header 32 bytes: u32 magic "PTCK" | u32 version 1 | f64 seq | f64 written-at ms | u64 reserved
 *   entries of 88 bytes: user[16] info_hash[20] peer_id[20] f64 uploaded f64 downloaded f64 left f64 last ms
 *   trailer 16 bytes: u32 magic "PTCE" | u32 reserved | f64 entry count
 * Counters are f64: exact for every integer up to 2^53, the bound the parser enforces.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Baseline } from './rules.js';

export const CHECKPOINT_FILE = 'baselines.ckpt';
const HEADER = 32;
const ENTRY = 88;
const TRAILER = 16;
const MAGIC = 0x5054_434b; // "PTCK"
const END = 0x5054_4345; // "PTCE"
const VERSION = 1;

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
}

/** Reads the checkpoint in `dir`; undefined if there is none. Throws if it is damaged. */
export function readCheckpoint(dir: string): Checkpoint | undefined {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return undefined;
  const buf = readFileSync(path);
  if (buf.length < HEADER + TRAILER || buf.readUInt32BE(0) !== MAGIC || buf.readUInt32BE(4) !== VERSION) {
    throw new Error(`${path}: not a privtrak baseline checkpoint (version ${VERSION})`);
  }
  const count = buf.readDoubleBE(buf.length - 8);
  if (buf.readUInt32BE(buf.length - TRAILER) !== END || buf.length !== HEADER + count * ENTRY + TRAILER) {
    throw new Error(`${path}: truncated or damaged (size ${buf.length}, ${count} entries announced)`);
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
  return { seq: buf.readDoubleBE(8), entries };
}

export interface WriteOptions {
  /** fsync the file before the rename (survive power loss, not only process crashes). */
  readonly fsync: boolean;
  /** Entries older than this are left out (they would be purged anyway). */
  readonly sinceMs: number;
  /** Called between shards; return false to abandon the checkpoint (the previous one stays). */
  readonly stillValid?: () => boolean;
}

/**
 * Writes a checkpoint at `seq`, one shard per event-loop turn so announces keep flowing.
 * Resolves true when the new file is in place, false if `stillValid` called it off.
 */
export async function writeCheckpoint(dir: string, seq: number, store: ShardedBaselines, opts: WriteOptions): Promise<boolean> {
  const tmp = join(dir, `${CHECKPOINT_FILE}.tmp`);
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    const header = Buffer.alloc(HEADER);
    header.writeUInt32BE(MAGIC, 0);
    header.writeUInt32BE(VERSION, 4);
    header.writeDoubleBE(seq, 8);
    header.writeDoubleBE(Date.now(), 16);
    writeSync(fd, header);
    let count = 0;
    let chunk = Buffer.allocUnsafe(64 * ENTRY);
    for (let shard = 0; shard < store.shardCount; shard++) {
      if (shard > 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (opts.stillValid && !opts.stillValid()) return false;
      }
      let used = 0;
      for (const slot of store.shardSlots(shard)) {
        const b = store.read(slot);
        if (b.lastMs < opts.sinceMs) continue;
        if (used + ENTRY > chunk.length) {
          writeSync(fd, chunk, 0, used);
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
      if (used > 0) writeSync(fd, chunk, 0, used);
    }
    if (opts.stillValid && !opts.stillValid()) return false;
    const trailer = Buffer.alloc(TRAILER);
    trailer.writeUInt32BE(END, 0);
    trailer.writeDoubleBE(count, 8);
    writeSync(fd, trailer);
    if (opts.fsync) fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok && existsSync(tmp)) unlinkSync(tmp);
  }
  renameSync(tmp, join(dir, CHECKPOINT_FILE));
  if (opts.fsync) {
    // The rename itself must reach the disk too: fsync the directory.
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
  return true;
}
