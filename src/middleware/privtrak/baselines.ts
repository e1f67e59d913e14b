/**
 * Per-peer baselines, keyed by (user, info_hash, peer_id): two clients of one user on one
 * torrent are two peers and never disturb each other.
 *
 * Packed: keys live in a byte-key index (src/byte-key-index.ts: words in one typed array, no string
 * per peer), and the four counters of every slot side by side in one Float64Array (32 bytes a
 * slot: one cache line, where four columns cost four cache misses per announce once the store
 * outgrows the CPU caches).
 *
 * A peer's key is 28 bytes, not the 56 of its three ids: its user and its torrent are each
 * interned once (InternedIds, with a count of baselines per entry), and the key holds their slot
 * numbers beside the peer_id. A user and a torrent each have many peers, so repeating their 36
 * bytes in every peer's key was a third of what a baseline cost (BENCHMARKS.md: memory per peer).
 * The 56-byte key is put back together on the way out (copyKey, entries), so checkpoints and
 * journals see the same keys as before.
 *
 * A baseline lives as long as its peer's baseline_lifetime (days), so anything per baseline that
 * the collector can see is old-generation work on every major GC: here there is none
 * (BENCHMARKS.md: memory per peer). read() hands out a fresh Baseline object: young,
 * short-lived, cheap.
 *
 * Slots are split into `shardCount` shards by slot number modulo the count, so garbage
 * collection can walk one shard per event-loop turn (checkpoints walk the shards in slices of
 * loop time, pausing anywhere). A slot freed by delete is reused, and slots are never moved, so a
 * walk that visits shards in turn, pausing between slots, sees every baseline that stays unchanged
 * during it exactly once (what checkpoint.ts relies on).
 */
import type { Baseline } from './rules.js';
import type { ShardedBaselines } from './checkpoint.js';
import { ByteKeyIndex, grown } from '../../byte-key-index.js';

/** Bytes of a key as it leaves the store (copyKey, entries, checkpoints): user (16) + info_hash (20) + peer_id (20). */
export const KEY_BYTES = 56;
const USER_BYTES = 16;
const INFO_HASH_BYTES = 20;
/** Bytes of a key inside the store: user slot, torrent slot (a word each), peer_id (five words). */
const PACKED_KEY_BYTES = 28;

/** Little-endian words of `src` into `dst` from word `at` (ByteKeyIndex.copyKey gives the bytes back). */
function packWords(src: Uint8Array, dst: Int32Array, at: number, words: number): void {
  for (let i = 0, o = 0; i < words; i++, o += 4) dst[at + i] = src[o]! | (src[o + 1]! << 8) | (src[o + 2]! << 16) | (src[o + 3]! << 24);
}

/** Ids kept once for many baselines (users, torrents): an index with a count of baselines per slot. */
class InternedIds {
  private readonly index: ByteKeyIndex;
  private counts: Int32Array;

  constructor(idBytes: number) {
    this.index = new ByteKeyIndex(idBytes, 64);
    this.counts = new Int32Array(this.index.capacity);
  }

  /** Ids held (each by at least one baseline). */
  get size(): number {
    return this.index.size;
  }

  /** The slot of the id in `words`, or -1. */
  find(words: Int32Array): number {
    return this.index.find(words);
  }

  /** The slot of the id in `words`, added if absent, counted for one more baseline. */
  hold(words: Int32Array): number {
    let slot = this.index.find(words);
    if (slot < 0) {
      slot = this.index.insert(words);
      if (this.counts.length < this.index.capacity) this.counts = grown(this.counts, this.index.capacity);
      this.counts[slot] = 0;
    }
    this.counts[slot]!++;
    return slot;
  }

  /** One baseline fewer for the id in `slot`; the last one frees the slot (a later id may take it). */
  release(slot: number): void {
    if (--this.counts[slot]! === 0) this.index.remove(slot);
  }

  copyId(slot: number, out: Uint8Array, offset: number): void {
    this.index.copyKey(slot, out, offset);
  }
}

export class BaselineStore implements ShardedBaselines {
  /** Baselines by packed key: [user slot, torrent slot, peer_id as five words]. */
  private readonly index = new ByteKeyIndex(PACKED_KEY_BYTES);
  /** Users with at least one baseline (also the "users tracked" gauge). */
  private readonly userIds = new InternedIds(USER_BYTES);
  /** Torrents with at least one baseline. */
  private readonly torrentIds = new InternedIds(INFO_HASH_BYTES);
  /** Slot s holds uploaded, downloaded, left, last ms at [4s, 4s + 3]. */
  private counters = new Float64Array(this.index.capacity * 4);
  /** The packed key being looked up. */
  private readonly scratch = new Int32Array(PACKED_KEY_BYTES / 4);
  /** A user's or a torrent's id being looked up, as words. */
  private readonly idScratch = new Int32Array(INFO_HASH_BYTES / 4);

  constructor(readonly shardCount: number) {}

  /** The 56-byte key of a peer, as a new Buffer (for callers off the announce path). */
  static key(user: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array): Buffer {
    const k = Buffer.allocUnsafe(KEY_BYTES);
    k.set(user, 0);
    k.set(infoHash, 16);
    k.set(peerId, 36);
    return k;
  }

  // The slot API: the announce path looks a peer up once and then reads and writes its slot.

  /** The peer's slot, or -1. */
  slotOf(user: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array): number {
    // A user or torrent with no baseline has no slot: then neither has the peer.
    packWords(user, this.idScratch, 0, 4);
    const u = this.userIds.find(this.idScratch);
    if (u < 0) return -1;
    packWords(infoHash, this.idScratch, 0, 5);
    const t = this.torrentIds.find(this.idScratch);
    if (t < 0) return -1;
    this.load(u, t, peerId);
    return this.index.find(this.scratch);
  }

  /** The baseline in a slot (from slotOf). */
  read(slot: number): Baseline {
    return this.readInto(slot, { uploaded: 0, downloaded: 0, left: 0, lastMs: 0 });
  }

  /** The baseline in a slot, written into `into` (the announce path reuses one object). */
  readInto(slot: number, into: Baseline): Baseline {
    const c = this.counters;
    const at = slot * 4;
    into.uploaded = c[at]!;
    into.downloaded = c[at + 1]!;
    into.left = c[at + 2]!;
    into.lastMs = c[at + 3]!;
    return into;
  }

  /** Overwrites the baseline in a slot (from slotOf). */
  write(slot: number, b: Baseline): void {
    const c = this.counters;
    const at = slot * 4;
    c[at] = b.uploaded;
    c[at + 1] = b.downloaded;
    c[at + 2] = b.left;
    c[at + 3] = b.lastMs;
  }

  /** Stores `next` for a peer looked up with slotOf (`slot` -1: absent); null removes it. */
  update(user: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array, slot: number, next: Baseline | null): void {
    if (next === null) {
      if (slot >= 0) this.removeAt(slot);
    } else if (slot >= 0) {
      this.write(slot, next);
    } else {
      this.write(this.insert(user, infoHash, peerId), next);
    }
  }

  /** Stores (or, with null, removes) a peer's baseline. */
  put(user: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array, next: Baseline | null): void {
    this.update(user, infoHash, peerId, this.slotOf(user, infoHash, peerId), next);
  }

  // The key API (restore, tests): a key is the 56 bytes of BaselineStore.key.

  get(key: Uint8Array): Baseline | undefined {
    const slot = this.slotOf(key.subarray(0, 16), key.subarray(16, 36), key.subarray(36, KEY_BYTES));
    return slot < 0 ? undefined : this.read(slot);
  }

  set(key: Uint8Array, b: Baseline | null): void {
    this.put(key.subarray(0, 16), key.subarray(16, 36), key.subarray(36, KEY_BYTES), b);
  }

  delete(key: Uint8Array): void {
    this.set(key, null);
  }

  get size(): number {
    return this.index.size;
  }

  get users(): number {
    return this.userIds.size;
  }

  /** Baselines whose peer announced at or after `sinceMs` (one pass over the packed counters). */
  countSeenSince(sinceMs: number): number {
    const c = this.counters;
    let n = 0;
    for (let at = 3; at < this.index.slotLimit * 4; at += 4) if (c[at]! >= sinceMs) n++;
    return n;
  }

  /** Removes baselines last seen before `cutoffMs` from one shard; returns how many. */
  collectShard(index: number, cutoffMs: number): number {
    let removed = 0;
    const c = this.counters;
    for (let slot = index; slot < this.index.slotLimit; slot += this.shardCount) {
      if (c[slot * 4 + 3]! < cutoffMs && this.index.inUse(slot)) {
        this.removeAt(slot);
        removed++;
      }
    }
    return removed;
  }

  /** Slots of one shard in use, in slot order (read lazily: a walk may pause between them). */
  *shardSlots(index: number): IterableIterator<number> {
    for (let slot = index; slot < this.index.slotLimit; slot += this.shardCount) if (this.index.inUse(slot)) yield slot;
  }

  /** Copies the key of a slot in use into `out` at `offset` (KEY_BYTES bytes: user, info_hash, peer_id). */
  copyKey(slot: number, out: Uint8Array, offset: number): void {
    this.userIds.copyId(this.index.keyWord(slot, 0), out, offset);
    this.torrentIds.copyId(this.index.keyWord(slot, 1), out, offset + USER_BYTES);
    this.index.copyKey(slot, out, offset + USER_BYTES + INFO_HASH_BYTES, 2);
  }

  /** Every entry, each key a new Buffer (tests and tools; checkpoints walk shardSlots). */
  *entries(): IterableIterator<[Buffer, Baseline]> {
    for (let shard = 0; shard < this.shardCount; shard++) {
      for (const slot of this.shardSlots(shard)) {
        const key = Buffer.allocUnsafe(KEY_BYTES);
        this.copyKey(slot, key, 0);
        yield [key, this.read(slot)];
      }
    }
  }

  /** The packed key of (user slot, torrent slot, peer_id) into `scratch`. */
  private load(userSlot: number, torrentSlot: number, peerId: Uint8Array): void {
    this.scratch[0] = userSlot;
    this.scratch[1] = torrentSlot;
    // Words composed from bytes: TypedArray#set into a byte view costs twice as much.
    packWords(peerId, this.scratch, 2, 5);
  }

  /** Adds a peer that is not in the store (slotOf found none); returns its slot. */
  private insert(user: Uint8Array, infoHash: Uint8Array, peerId: Uint8Array): number {
    packWords(user, this.idScratch, 0, 4);
    const u = this.userIds.hold(this.idScratch);
    packWords(infoHash, this.idScratch, 0, 5);
    const t = this.torrentIds.hold(this.idScratch);
    this.load(u, t, peerId);
    const slot = this.index.insert(this.scratch);
    if (this.counters.length < this.index.capacity * 4) this.counters = grown(this.counters, this.index.capacity * 4);
    return slot;
  }

  private removeAt(slot: number): void {
    const u = this.index.keyWord(slot, 0);
    const t = this.index.keyWord(slot, 1);
    this.index.remove(slot);
    this.counters[slot * 4 + 3] = -1; // a free slot never counts as recently seen (countSeenSince)
    this.userIds.release(u);
    this.torrentIds.release(t);
  }
}
