/**
 * Records by the bytes of a fixed-length key given as a string: a ByteKeyIndex (byte-key-index.ts)
 * over the 16 bytes of a passkey or the 20 of an info_hash, and the records by slot. The access
 * registry keeps its users and torrents in two; the privtrak hook's identifier caches user keys in one.
 *
 * Why not a Map keyed by the string: every announce of the private chain looked up both, and
 * with 100,000 users and 100,000 torrents those two lookups were the largest single cost of
 * the access hooks (perf, UDP at saturation: V8's FindOrderedHashMapEntry alone took 12% of the
 * main thread). A Map lookup hashes a fresh string (for a torrent, the latin1 string made from
 * the info_hash first; for a passkey, a slice of the URL, hashed character by character) and
 * walks a bucket chain whose every key is another object to load and compare. Here the key's
 * words are hashed where they are, a probe reads one cell that holds the hash beside the slot,
 * and only a match reads the key: in a loop over 100,000 torrents, 97 ns a lookup against 220 ns
 * for the Map with its latin1 string (BENCHMARKS.md). A passkey in either case finds the same
 * entry, as passkeys compare.
 *
 * The string forms stay the registry's keys everywhere else (sources, admin API, overrides):
 * this index turns them into words with `wordsOf`, which also refuses malformed keys.
 */
import { ByteKeyIndex } from './byte-key-index.js';

/**
 * Writes `key`'s bytes into `out` as words, byte i of each word at bits 8i (as getBytes reads
 * them, whatever the platform's byte order); false if `key` is not a valid key.
 */
export type KeyWords = (key: string, out: Int32Array) => boolean;

export class RecordIndex<T> {
  private readonly index: ByteKeyIndex;
  /** The record in each slot (undefined in a free slot). */
  private readonly records: Array<T | undefined> = [];
  /** Words of the key being looked up: one lookup at a time, on the one thread. */
  private readonly scratch: Int32Array;

  constructor(keyBytes: number, private readonly wordsOf: KeyWords, expected = 1024) {
    this.index = new ByteKeyIndex(keyBytes, expected);
    this.scratch = new Int32Array(keyBytes / 4);
  }

  get size(): number {
    return this.index.size;
  }

  /** The record with this key (its string form), or undefined; a malformed key is not found. */
  get(key: string): T | undefined {
    if (!this.wordsOf(key, this.scratch)) return undefined;
    const slot = this.index.find(this.scratch);
    return slot < 0 ? undefined : this.records[slot];
  }

  /** The record whose key is these bytes (the key's length), or undefined. No string is made. */
  getBytes(bytes: Uint8Array): T | undefined {
    const out = this.scratch;
    if (bytes.length !== out.length * 4) return undefined;
    for (let w = 0, i = 0; w < out.length; w++, i += 4) {
      out[w] = bytes[i]! | bytes[i + 1]! << 8 | bytes[i + 2]! << 16 | bytes[i + 3]! << 24;
    }
    const slot = this.index.find(out);
    return slot < 0 ? undefined : this.records[slot];
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** Adds or replaces; throws a RangeError for a malformed key (sources hand over normalized keys only). */
  set(key: string, value: T): void {
    if (!this.wordsOf(key, this.scratch)) throw new RangeError(`not a valid key: ${JSON.stringify(key)}`);
    let slot = this.index.find(this.scratch);
    if (slot < 0) slot = this.index.insert(this.scratch);
    this.records[slot] = value;
  }

  /** Removes the key; false if it was not there. */
  delete(key: string): boolean {
    if (!this.wordsOf(key, this.scratch)) return false;
    const slot = this.index.find(this.scratch);
    if (slot < 0) return false;
    this.index.remove(slot);
    this.records[slot] = undefined;
    return true;
  }

  /** Every record, in slot order. */
  *values(): IterableIterator<T> {
    for (let slot = 0; slot < this.index.slotLimit; slot++) {
      if (this.index.inUse(slot)) yield this.records[slot]!;
    }
  }
}

const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = HEX[65 + c] = 10 + c;

/** A passkey's words: 32 hex characters in either case, as 16 bytes. */
export const passkeyWords: KeyWords = (key, out) => {
  if (key.length !== 32) return false;
  for (let w = 0; w < 4; w++) {
    let word = 0;
    for (let b = 0; b < 4; b++) {
      const i = w * 8 + b * 2;
      const hi = key.charCodeAt(i);
      const lo = key.charCodeAt(i + 1);
      const v = (hi < 128 ? HEX[hi]! : -1) << 4 | (lo < 128 ? HEX[lo]! : -1);
      if (v < 0) return false; // a -1 on either side makes the whole value negative
      word |= v << (b * 8);
    }
    out[w] = word;
  }
  return true;
};

/** A torrent key's words: the latin1 string of a 20-byte info_hash (records.ts torrentKey). */
export const torrentKeyWords: KeyWords = (key, out) => {
  if (key.length !== 20) return false;
  for (let w = 0; w < 5; w++) {
    let word = 0;
    for (let b = 0; b < 4; b++) {
      const c = key.charCodeAt(w * 4 + b);
      if (c > 0xff) return false;
      word |= c << (b * 8);
    }
    out[w] = word;
  }
  return true;
};
