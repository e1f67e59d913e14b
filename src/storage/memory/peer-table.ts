/**
 * The peers of one address family of one swarm, packed: no object or Buffer per peer.
 *
 * Records are rows of one Int32Array (`stride` words each): peer_id as 5 words, last seen (whole
 * seconds since the store's epoch), port, then the address (1 word IPv4, 4 words IPv6): 32 bytes an
 * IPv4 peer, 44 an IPv6 one. Seeders occupy rows [0, seeders), leechers [seeders, size): a leecher
 * gets seeders first and a seeder only leechers by reading one contiguous range each, without
 * scanning past the other role. Every change keeps rows dense: delete moves at most two rows
 * (the last seeder into the hole, the last leecher into the last seeder's row), a role change swaps
 * two rows, so put, delete and role change are O(1).
 *
 * peer_id → row is an open-addressing table of row + 1 (0: empty) in an Int32Array with linear
 * probing, twice the row capacity (load ≤ 1/2), deletion by backward shift (no tombstones under
 * churn). Cells hold no hash: a probe compares the candidate row's id words.
 * Tables up to SMALL rows have no index and are scanned (most swarms hold a handful of peers;
 * aquatic keeps small swarms in plain arrays for the same reason).
 *
 * Capacity doubles when full and halves when a quarter full (the hysteresis keeps a table that
 * hovers around a power of two from reallocating on every announce); small arrays come from the
 * store's block pool (block-pool.ts), big ones grow and shrink in place (resizable-arrays.ts).
 * Growing a table rebuilds its index: amortised O(1) per insert, but one announce pays for it all,
 * measured 6 ms at 131,072 rows, 17 ms at 262,144, 70 ms at 524,288 and 0.2 s at 1,048,576 (cache
 * misses). Swarms that big are rare; an incremental rehash would spread it if they are not.
 *
 * Why per swarm rather than one global pool with per-swarm slot lists: a swarm's rows are
 * contiguous, so peer selection reads consecutive memory and needs no indirection, and a pool
 * would need a global (info_hash, peer_id) index (36-byte keys) and a slot list per swarm on top
 * of the same records: ≈ 20 bytes a peer more. The price is per swarm: a Map entry and its key,
 * two objects and one or two typed-array views, ≈ 300 bytes, which dominate swarms of a few peers
 * (BENCHMARKS.md, memory per peer: shape).
 *
 * The hash is keyed with random words chosen once per process, as V8 seeds its string hash:
 * peer_ids come from clients, and an unkeyed hash would let one client fill a probe chain.
 */
import { randomBytes } from 'node:crypto';
import { resized, zeroed } from '../../resizable-arrays.js';
import { keyedHash } from '../../keyed-hash.js';
import type { BlockPool } from './block-pool.js';

const ID_WORDS = 5;
/** Word offsets inside a record. */
const SEEN = 5;
const PORT = 6;
const ADDR = 7;
export const STRIDE4 = 8;
export const STRIDE6 = 11;
/** Tables of up to this many rows are scanned instead of indexed. */
const SMALL = 8;
const MIN_CAPACITY = 2;
/** Arrays shorter than this come from the store's block pool, longer ones are resizable (one page). */
const POOLED_WORDS = 1024;

const secretBytes = randomBytes(4 * (ID_WORDS + 1));
const SECRET = new Int32Array(secretBytes.buffer, secretBytes.byteOffset, ID_WORDS + 1);

/** Keyed murmur3-style hash of the 5 peer_id words of `w` at `at`. */
export function hashId(w: Int32Array, at: number): number {
  return keyedHash(w, at, ID_WORDS, SECRET);
}

/** Packs a 20-byte peer_id into 5 little-endian words of `out`. */
export function packId(id: Uint8Array, out: Int32Array): void {
  for (let i = 0, o = 0; i < ID_WORDS; i++, o += 4) out[i] = id[o]! | (id[o + 1]! << 8) | (id[o + 2]! << 16) | (id[o + 3]! << 24);
}

/** What a record holds besides its id: the address as the peer's compact form gives it. */
export interface PeerAddress {
  readonly port: number;
  /** IPv4 as an unsigned number; ignored for IPv6. */
  readonly ipv4: number;
  /** BEP 7 compact form (18 bytes) for IPv6; ignored for IPv4. */
  readonly compact: Uint8Array;
}

export class PeerTable {
  /** Row r at [r * stride, (r + 1) * stride). */
  rec: Int32Array;
  /** Rows in use. */
  size = 0;
  /** Rows [0, seeders) are seeders. */
  seeders = 0;
  private capacity: number;
  private cells: Int32Array | null = null;
  private mask = 0;

  constructor(readonly stride: number, private readonly pool: BlockPool) {
    this.capacity = MIN_CAPACITY;
    this.rec = pool.alloc(MIN_CAPACITY * stride);
  }

  /** Gives the table's arrays back to the pool: the table must not be used again. */
  release(): void {
    this.free(this.rec);
    if (this.cells !== null) this.free(this.cells);
    this.cells = null;
    this.size = 0;
    this.seeders = 0;
  }

  /** Rows allocated (for tests: growth and shrink). */
  get rows(): number {
    return this.capacity;
  }

  /** The row of the peer whose packed id is `id`, or -1. */
  find(id: Int32Array): number {
    const rec = this.rec;
    const stride = this.stride;
    // Compared from the last word: the first 8 bytes are mostly the client's prefix ("-qB4650-").
    const id4 = id[4]!;
    const cells = this.cells;
    if (cells === null) {
      for (let r = 0, at = 0; r < this.size; r++, at += stride) {
        if (rec[at + 4] === id4 && rec[at + 3] === id[3] && rec[at + 2] === id[2] && rec[at + 1] === id[1] && rec[at] === id[0]) return r;
      }
      return -1;
    }
    const mask = this.mask;
    for (let pos = hashId(id, 0) & mask; ; pos = (pos + 1) & mask) {
      const cell = cells[pos]!;
      if (cell === 0) return -1;
      const at = (cell - 1) * stride;
      if (rec[at + 4] === id4 && rec[at + 3] === id[3] && rec[at + 2] === id[2] && rec[at + 1] === id[1] && rec[at] === id[0]) return cell - 1;
    }
  }

  /**
   * Adds or refreshes a peer (`row`: its find() result) as seeder or leecher, seen at `seen`.
   * Returns its row.
   */
  put(id: Int32Array, row: number, addr: PeerAddress, seen: number, seeder: boolean): number {
    if (row < 0) {
      if (this.size === this.capacity) this.resize(this.capacity * 2);
      if (seeder) {
        row = this.seeders++;
        // The first leecher moves to the end to make room at the seeders' end.
        if (this.size > row) this.move(row, this.size);
      } else {
        row = this.size;
      }
      this.size++;
      const at = row * this.stride;
      for (let i = 0; i < ID_WORDS; i++) this.rec[at + i] = id[i]!;
      this.writeAddress(at, addr, seen);
      if (this.cells !== null) this.place(row);
      return row;
    }
    this.writeAddress(row * this.stride, addr, seen);
    if (seeder && row >= this.seeders) {
      this.swap(row, this.seeders);
      return this.seeders++;
    }
    if (!seeder && row < this.seeders) {
      this.swap(row, --this.seeders);
      return this.seeders;
    }
    return row;
  }

  /** Removes the peer in `row`; rows of other peers may move (see the header). */
  removeAt(row: number): void {
    if (this.cells !== null) this.unplace(row);
    const last = this.size - 1;
    if (row < this.seeders) {
      const lastSeeder = this.seeders - 1;
      if (row !== lastSeeder) this.move(lastSeeder, row);
      if (last !== lastSeeder) this.move(last, lastSeeder);
      this.seeders--;
    } else if (row !== last) {
      this.move(last, row);
    }
    this.size--;
    if (this.capacity > MIN_CAPACITY && this.size * 4 <= this.capacity) this.resize(this.capacity / 2);
  }

  /** Last seen (seconds since the store's epoch) of `row`. */
  seenAt(row: number): number {
    return this.rec[row * this.stride + SEEN]!;
  }

  /**
   * Appends to `into` (from index `count`, up to `max`) the rows of [lo, hi) but `skip`, from a
   * random starting row, wrapping: different announcers of a big swarm get different peers
   * without a shuffle. Returns the new count.
   */
  pick(into: Int32Array, count: number, max: number, lo: number, hi: number, skip: number): number {
    const n = hi - lo;
    if (n <= 0 || count >= max) return count;
    const start = n > max - count ? lo + Math.floor(Math.random() * n) : lo;
    for (let r = start; r < hi && count < max; r++) if (r !== skip) into[count++] = r;
    for (let r = lo; r < start && count < max; r++) if (r !== skip) into[count++] = r;
    return count;
  }

  /**
   * Writes row `row` as <peer_id 20><compact 6 | 18> into `out` at `pos`; returns the end.
   * The id goes back to bytes as packId read it; the address in network order.
   */
  writeRow(row: number, out: Uint8Array, pos: number): number {
    const rec = this.rec;
    const at = row * this.stride;
    for (let i = 0; i < ID_WORDS; i++, pos += 4) {
      const w = rec[at + i]!;
      out[pos] = w;
      out[pos + 1] = w >>> 8;
      out[pos + 2] = w >>> 16;
      out[pos + 3] = w >>> 24;
    }
    const words = this.stride - ADDR;
    for (let i = 0; i < words; i++, pos += 4) {
      const w = rec[at + ADDR + i]!;
      out[pos] = w >>> 24;
      out[pos + 1] = w >>> 16;
      out[pos + 2] = w >>> 8;
      out[pos + 3] = w;
    }
    const port = rec[at + PORT]!;
    out[pos] = port >>> 8;
    out[pos + 1] = port;
    return pos + 2;
  }

  /** The row's port and IPv4 address (unsigned), for replies built without reading bytes back. */
  portOf(row: number): number {
    return this.rec[row * this.stride + PORT]!;
  }

  ipv4Of(row: number): number {
    return this.rec[row * this.stride + ADDR]! >>> 0;
  }

  private writeAddress(at: number, addr: PeerAddress, seen: number): void {
    const rec = this.rec;
    rec[at + SEEN] = seen;
    rec[at + PORT] = addr.port;
    if (this.stride === STRIDE4) {
      rec[at + ADDR] = addr.ipv4;
    } else {
      const c = addr.compact;
      for (let i = 0, o = 0; i < 4; i++, o += 4) rec[at + ADDR + i] = (c[o]! << 24) | (c[o + 1]! << 16) | (c[o + 2]! << 8) | c[o + 3]!;
    }
  }

  /** Copies row `from` to row `to` (a free row or a hole) and points its index cell at `to`. */
  private move(from: number, to: number): void {
    if (this.cells !== null) this.cells[this.cellOf(from)] = to + 1;
    this.rec.copyWithin(to * this.stride, from * this.stride, (from + 1) * this.stride);
  }

  private swap(a: number, b: number): void {
    if (a === b) return;
    const cells = this.cells;
    if (cells !== null) {
      const ca = this.cellOf(a);
      const cb = this.cellOf(b);
      cells[ca] = b + 1;
      cells[cb] = a + 1;
    }
    const rec = this.rec;
    const stride = this.stride;
    for (let i = 0, x = a * stride, y = b * stride; i < stride; i++, x++, y++) {
      const t = rec[x]!;
      rec[x] = rec[y]!;
      rec[y] = t;
    }
  }

  /** The index cell that holds `row`. */
  private cellOf(row: number): number {
    const cells = this.cells!;
    const mask = this.mask;
    let pos = hashId(this.rec, row * this.stride) & mask;
    while (cells[pos] !== row + 1) pos = (pos + 1) & mask;
    return pos;
  }

  private place(row: number): void {
    const cells = this.cells!;
    const mask = this.mask;
    let pos = hashId(this.rec, row * this.stride) & mask;
    while (cells[pos] !== 0) pos = (pos + 1) & mask;
    cells[pos] = row + 1;
  }

  /** Empties `row`'s cell by backward shift (as ByteKeyIndex.remove). */
  private unplace(row: number): void {
    const cells = this.cells!;
    const mask = this.mask;
    let hole = this.cellOf(row);
    for (let next = (hole + 1) & mask; cells[next] !== 0; next = (next + 1) & mask) {
      const home = hashId(this.rec, (cells[next]! - 1) * this.stride) & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      cells[hole] = cells[next]!;
      hole = next;
    }
    cells[hole] = 0;
  }

  private resize(capacity: number): void {
    const old = this.rec;
    const words = capacity * this.stride;
    const keep = this.size * this.stride;
    if (words < POOLED_WORDS) {
      this.rec = this.pool.alloc(words);
      this.rec.set(old.subarray(0, keep));
      this.free(old);
    } else if (old.length < POOLED_WORDS) {
      this.rec = zeroed(old, words); // from the pool to a resizable buffer
      this.rec.set(old.subarray(0, keep));
      this.free(old);
    } else {
      this.rec = resized(old, words, keep);
    }
    this.capacity = capacity;
    if (this.cells !== null) this.free(this.cells);
    if (capacity <= SMALL) {
      this.cells = null;
      this.mask = 0;
      return;
    }
    // A new index rather than the old one cleared: the old one's pages go back when it is dropped.
    const cellWords = capacity * 2;
    this.cells = cellWords < POOLED_WORDS ? this.pool.alloc(cellWords).fill(0) : zeroed(this.rec, cellWords);
    this.mask = cellWords - 1;
    for (let r = 0; r < this.size; r++) this.place(r);
  }

  /** Returns a pooled array to the pool (resizable ones are simply dropped). */
  private free(a: Int32Array): void {
    if (a.length < POOLED_WORDS) this.pool.release(a);
  }
}
