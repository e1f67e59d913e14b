/**
 * Per-peer baselines, keyed by (user, info_hash, peer_id): two clients of one user on one
 * torrent are two peers and never disturb each other.
 *
 * Packed: a Map from key to a slot number, and the four counters of every slot side by side in
 * one Float64Array (32 bytes a slot: one cache line, where four columns cost four cache misses
 * per announce once the store outgrows the CPU caches). A baseline lives as long as its peer's baseline_lifetime (days), so an
 * object per baseline (plus boxed numbers for counters above 2^31) was old-generation garbage
 * the collector had to trace on every major GC: the packed form holds half the memory per
 * peer and gives the collector nothing to trace but the key strings (BENCHMARKS.md).
 * get() hands out a fresh Baseline object: young, short-lived, cheap.
 *
 * Slots are split into `shardCount` shards by slot number modulo the count, so garbage
 * collection and checkpoints can walk one shard per event-loop turn. A slot freed by delete is
 * reused, and slots are never moved, so a walk that visits shards in turn sees every baseline
 * that stays unchanged during it exactly once (what checkpoint.ts relies on).
 */
import type { Baseline } from './rules.js';
import type { ShardedBaselines } from './checkpoint.js';

const KEY_SCRATCH = Buffer.alloc(56);
const INITIAL_SLOTS = 1024;

export class BaselineStore implements ShardedBaselines {
  private readonly index = new Map<string, number>();
  /** Key of each slot (undefined: free). */
  private readonly keys: Array<string | undefined> = [];
  /** Slot s holds uploaded, downloaded, left, last ms at [4s, 4s + 3]. */
  private counters = new Float64Array(INITIAL_SLOTS * 4);
  /** Slots in use or freed: slots ≥ this were never used. */
  private highWater = 0;
  private readonly free: number[] = [];
  /** Baselines per user, for the "users tracked" gauge. */
  private readonly perUser = new Map<string, number>();

  constructor(readonly shardCount: number) {}

  /** The 56-byte key: user (16) + info_hash (20) + peer_id (20), as a latin1 string. */
  static key(user: Buffer, infoHash: Buffer, peerId: Buffer): string {
    // Assembled in one scratch buffer and decoded once: three decodes and two concatenations made
    // a rope that the Map then had to flatten before hashing.
    KEY_SCRATCH.set(user, 0);
    KEY_SCRATCH.set(infoHash, 16);
    KEY_SCRATCH.set(peerId, 36);
    return KEY_SCRATCH.toString('latin1', 0, 56);
  }

  get(key: string): Baseline | undefined {
    const slot = this.index.get(key);
    return slot === undefined ? undefined : this.at(slot);
  }

  set(key: string, b: Baseline): void {
    const slot = this.index.get(key);
    if (slot === undefined) this.insert(key, b);
    else this.write(slot, b);
  }

  // The slot API: the announce path looks a key up once and then reads and writes its slot.

  /** The key's slot, or -1. */
  slotOf(key: string): number {
    return this.index.get(key) ?? -1;
  }

  /** The baseline in a slot (from slotOf). */
  read(slot: number): Baseline {
    return this.at(slot);
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

  /** Adds a key that is not in the store (slotOf was -1). */
  insert(key: string, b: Baseline): void {
    const slot = this.allocate();
    this.index.set(key, slot);
    this.keys[slot] = key;
    this.countUser(key, 1);
    this.write(slot, b);
  }

  /** Removes the key in a slot (from slotOf). */
  removeAt(slot: number): void {
    this.release(this.keys[slot]!, slot);
  }

  /** Stores `next` for a key looked up with slotOf (-1: absent); null removes it. */
  update(key: string, slot: number, next: Baseline | null): void {
    if (next === null) {
      if (slot >= 0) this.removeAt(slot);
    } else if (slot >= 0) {
      this.write(slot, next);
    } else {
      this.insert(key, next);
    }
  }

  delete(key: string): void {
    const slot = this.index.get(key);
    if (slot !== undefined) this.release(key, slot);
  }

  get size(): number {
    return this.index.size;
  }

  get users(): number {
    return this.perUser.size;
  }

  /** Baselines whose peer announced at or after `sinceMs` (one pass over the packed counters). */
  countSeenSince(sinceMs: number): number {
    const c = this.counters;
    let n = 0;
    for (let at = 3; at < this.highWater * 4; at += 4) if (c[at]! >= sinceMs) n++;
    return n;
  }

  /** Removes baselines last seen before `cutoffMs` from one shard; returns how many. */
  collectShard(index: number, cutoffMs: number): number {
    let removed = 0;
    for (let slot = index; slot < this.highWater; slot += this.shardCount) {
      const key = this.keys[slot];
      if (key !== undefined && this.counters[slot * 4 + 3]! < cutoffMs) {
        this.release(key, slot);
        removed++;
      }
    }
    return removed;
  }

  *entries(): IterableIterator<[string, Baseline]> {
    for (let shard = 0; shard < this.shardCount; shard++) yield* this.shardEntries(shard);
  }

  /** One shard's entries (checkpoints write one shard per event-loop turn). */
  *shardEntries(index: number): IterableIterator<[string, Baseline]> {
    for (let slot = index; slot < this.highWater; slot += this.shardCount) {
      const key = this.keys[slot];
      if (key !== undefined) yield [key, this.at(slot)];
    }
  }

  private at(slot: number): Baseline {
    const c = this.counters;
    const at = slot * 4;
    return { uploaded: c[at]!, downloaded: c[at + 1]!, left: c[at + 2]!, lastMs: c[at + 3]! };
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.highWater * 4 === this.counters.length) this.grow();
    this.keys.push(undefined);
    return this.highWater++;
  }

  private release(key: string, slot: number): void {
    this.index.delete(key);
    this.keys[slot] = undefined;
    this.counters[slot * 4 + 3] = -1; // a free slot never counts as recently seen (countSeenSince)
    this.free.push(slot);
    this.countUser(key, -1);
  }

  private grow(): void {
    const bigger = new Float64Array(this.counters.length * 2);
    bigger.set(this.counters);
    this.counters = bigger;
  }

  private countUser(key: string, by: 1 | -1): void {
    const user = key.slice(0, 16);
    const n = (this.perUser.get(user) ?? 0) + by;
    if (n <= 0) this.perUser.delete(user);
    else this.perUser.set(user, n);
  }
}
