/**
 * A hash index from fixed-length byte keys to dense slot numbers, kept in typed arrays.
 *
 * Why by hand: a Map needs a string (or object) per key. The baseline store holds one key per
 * peer for days, so a 56-byte latin1 string per key was most of its memory, every new key was
 * a string the young generation had to copy twice before it settled in the old one, and every
 * lookup built a throwaway string and hashed it. Here keys are words in one Int32Array: nothing
 * per key for the collector to trace, a lookup reads the caller's key words in place, and a peer
 * costs ≈ 165 bytes at 1M peers instead of 195 (BENCHMARKS.md). No library on npm keeps
 * fixed-length binary keys in flat arrays with deletion and stable slots.
 *
 * Open addressing with linear probing over a power-of-two table of (slot, hash) cells (load at
 * most 1/2), deletion by backward shift (no tombstones, so probe chains never rot under churn).
 * Slots are dense and stable: a key keeps its slot until it is removed, and a freed slot is
 * reused, which is what the baseline store's per-slot counters and shard walks rely on.
 *
 * The hash is keyed with random words chosen per index, like V8's own seeded string hash that
 * the Map used: peer_ids and info_hashes come from clients, and an unkeyed hash would let one
 * client choose keys that all land in one probe chain.
 */
import { randomBytes } from 'node:crypto';
import { resized, zeroed } from './resizable-arrays.js';
import { keyedHash } from './keyed-hash.js';

const EMPTY = 0; // table cells hold slot + 1

/**
 * `a` grown to `length` elements (the per-slot arrays), in place when it is big: copies into
 * fresh malloc'd arrays left RSS at 1.5× the live arrays (resizable-arrays.ts).
 */
export function grown<T extends Int32Array | Uint8Array | Float64Array>(a: T, length: number): T {
  return resized(a, length);
}

export class ByteKeyIndex {
  /** Key words per slot. */
  readonly words: number;
  /** Slot s's key at [s * words, (s + 1) * words). */
  private keys: Int32Array;
  /** 1 for a slot holding a key, 0 for a free one. */
  private used: Uint8Array;
  /**
   * Cells of two words: slot + 1 (0: empty) and the key's hash. The hash beside the slot lets a
   * probe pass over other keys' cells without touching their keys (a cache miss each).
   */
  private table: Int32Array;
  /** Cells - 1 (a power of two minus one). */
  private mask: number;
  private readonly secret: Int32Array;
  /** Slots in use or freed: slots ≥ this were never used. */
  private highWater = 0;
  /** Freed slots, reused before new ones are taken. */
  private readonly free: number[] = [];
  private count = 0;

  /** `keyBytes`: the key length, a multiple of 4. */
  constructor(keyBytes: number, initialSlots = 1024) {
    if (keyBytes <= 0 || keyBytes % 4 !== 0) throw new RangeError('key length must be a positive multiple of 4');
    this.words = keyBytes / 4;
    const slots = Math.max(16, initialSlots);
    this.keys = new Int32Array(slots * this.words);
    this.used = new Uint8Array(slots);
    let cells = 16;
    while (cells < slots * 2) cells *= 2;
    this.table = new Int32Array(cells * 2);
    this.mask = cells - 1;
    const r = randomBytes(4 * (this.words + 1));
    this.secret = new Int32Array(r.buffer, r.byteOffset, this.words + 1);
  }

  /** Keys in the index. */
  get size(): number {
    return this.count;
  }

  /** Slots ever used (an upper bound for walks over slots; free ones are among them). */
  get slotLimit(): number {
    return this.highWater;
  }

  /** Capacity in slots: arrays indexed by slot must hold this many (it grows by doubling). */
  get capacity(): number {
    return this.used.length;
  }

  /** Whether `slot` holds a key. */
  inUse(slot: number): boolean {
    return this.used[slot] === 1;
  }

  /** The hash of the key in `key` at word `at`. */
  hash(key: Int32Array, at = 0): number {
    return keyedHash(key, at, this.words, this.secret);
  }

  /** The slot holding the key in `key` at word `at`, or -1. */
  find(key: Int32Array, at = 0): number {
    const h = this.hash(key, at);
    const table = this.table;
    const mask = this.mask;
    for (let pos = h & mask; ; pos = (pos + 1) & mask) {
      const cell = table[pos * 2]!;
      if (cell === EMPTY) return -1;
      if (table[pos * 2 + 1] === h && this.equals(cell - 1, key, at)) return cell - 1;
    }
  }

  /** Adds a key that is not in the index (find returned -1); returns its slot. */
  insert(key: Int32Array, at = 0): number {
    const h = this.hash(key, at);
    const slot = this.allocate();
    const keys = this.keys;
    const base = slot * this.words;
    for (let i = 0; i < this.words; i++) keys[base + i] = key[at + i]!;
    this.used[slot] = 1;
    this.place(slot, h);
    this.count++;
    if (this.count * 4 > this.table.length) this.resize((this.mask + 1) * 2); // load above 1/2
    return slot;
  }

  /** Removes the key in `slot`; the slot is reused by a later insert. */
  remove(slot: number): void {
    if (!this.inUse(slot)) throw new RangeError(`slot ${slot} holds no key`);
    const table = this.table;
    const mask = this.mask;
    let hole = this.hash(this.keys, slot * this.words) & mask;
    while (table[hole * 2] !== slot + 1) hole = (hole + 1) & mask;
    // Backward shift: pull later members of the probe run into the hole unless that would move
    // one in front of its home cell.
    for (let next = (hole + 1) & mask; table[next * 2] !== EMPTY; next = (next + 1) & mask) {
      const home = table[next * 2 + 1]! & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      table[hole * 2] = table[next * 2]!;
      table[hole * 2 + 1] = table[next * 2 + 1]!;
      hole = next;
    }
    table[hole * 2] = EMPTY;
    this.used[slot] = 0;
    this.free.push(slot);
    this.count--;
  }

  /** Word `i` of the key in `slot` (a slot in use). */
  keyWord(slot: number, i: number): number {
    return this.keys[slot * this.words + i]!;
  }

  /**
   * Copies slot's key into `out` at byte `offset`, each word little-endian: all of it, or `count`
   * words from word `from`.
   */
  copyKey(slot: number, out: Uint8Array, offset = 0, from = 0, count = this.words - from): void {
    const base = slot * this.words + from;
    for (let i = 0, o = offset; i < count; i++, o += 4) {
      const w = this.keys[base + i]!;
      out[o] = w;
      out[o + 1] = w >>> 8;
      out[o + 2] = w >>> 16;
      out[o + 3] = w >>> 24;
    }
  }

  private equals(slot: number, key: Int32Array, at: number): boolean {
    const keys = this.keys;
    const base = slot * this.words;
    for (let i = 0; i < this.words; i++) if (keys[base + i] !== key[at + i]) return false;
    return true;
  }

  private place(slot: number, h: number): void {
    const table = this.table;
    let pos = h & this.mask;
    while (table[pos * 2] !== EMPTY) pos = (pos + 1) & this.mask;
    table[pos * 2] = slot + 1;
    table[pos * 2 + 1] = h;
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.highWater === this.used.length) {
      this.keys = grown(this.keys, this.keys.length * 2);
      this.used = grown(this.used, this.used.length * 2);
    }
    return this.highWater++;
  }

  private resize(cells: number): void {
    const old = this.table;
    this.table = zeroed(old, cells * 2);
    this.mask = cells - 1;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== EMPTY) this.place(old[i]! - 1, old[i + 1]!);
  }
}
