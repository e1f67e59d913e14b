/**
 * Per-peer baselines, keyed by (user, info_hash, peer_id): two clients of one user on one
 * torrent are two peers and never disturb each other. Sharded by info_hash so garbage
 * collection can walk one shard per event-loop turn instead of blocking on millions of entries.
 */
import type { Baseline } from './rules.js';
import type { ShardedBaselines } from './checkpoint.js';

export class BaselineStore implements ShardedBaselines {
  private readonly shards: Array<Map<string, Baseline>>;
  /** Baselines per user, for the "users tracked" gauge. */
  private readonly perUser = new Map<string, number>();
  private count = 0;

  constructor(shardCount: number) {
    this.shards = Array.from({ length: shardCount }, () => new Map());
  }

  /** The 56-byte key: user (16) + info_hash (20) + peer_id (20), as a latin1 string. */
  static key(user: Buffer, infoHash: Buffer, peerId: Buffer): string {
    return user.toString('latin1') + infoHash.toString('latin1') + peerId.toString('latin1');
  }

  private shardOf(key: string): Map<string, Baseline> {
    // Bytes 16-17 of the key are the info_hash's first two: uniformly distributed.
    return this.shards[((key.charCodeAt(16) << 8) | key.charCodeAt(17)) % this.shards.length]!;
  }

  get(key: string): Baseline | undefined {
    return this.shardOf(key).get(key);
  }

  set(key: string, baseline: Baseline): void {
    const shard = this.shardOf(key);
    if (!shard.has(key)) this.added(key);
    shard.set(key, baseline);
  }

  delete(key: string): void {
    if (this.shardOf(key).delete(key)) this.removed(key);
  }

  get size(): number {
    return this.count;
  }

  get users(): number {
    return this.perUser.size;
  }

  get shardCount(): number {
    return this.shards.length;
  }

  /** Removes baselines last seen before `cutoffMs` from one shard; returns how many. */
  collectShard(index: number, cutoffMs: number): number {
    const shard = this.shards[index]!;
    let removed = 0;
    for (const [key, b] of shard) {
      if (b.lastMs < cutoffMs) {
        shard.delete(key);
        this.removed(key);
        removed++;
      }
    }
    return removed;
  }

  *entries(): IterableIterator<[string, Baseline]> {
    for (const shard of this.shards) yield* shard;
  }

  /** One shard's entries (checkpoints write one shard per event-loop turn). */
  shardEntries(index: number): Iterable<[string, Baseline]> {
    return this.shards[index]!;
  }

  private added(key: string): void {
    this.count++;
    const user = key.slice(0, 16);
    this.perUser.set(user, (this.perUser.get(user) ?? 0) + 1);
  }

  private removed(key: string): void {
    this.count--;
    const user = key.slice(0, 16);
    const n = (this.perUser.get(user) ?? 1) - 1;
    if (n === 0) this.perUser.delete(user);
    else this.perUser.set(user, n);
  }
}
