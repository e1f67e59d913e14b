/**
 * A set of peers with O(1) put, delete and random access: an array plus an index map.
 * Random access lets peer selection start at a random offset, so large swarms hand out
 * different peers to different announcers without shuffling.
 */
import type { Peer } from '../../bittorrent/types.js';

export interface StoredPeer {
  peer: Peer;
  /** Last announce, epoch ms (coarse clock). */
  seenMs: number;
}

export class PeerList {
  readonly items: StoredPeer[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.items.length;
  }

  /** Key a peer by its peer_id bytes (latin1: one char per byte). */
  static key(peer: Peer): string {
    return peer.id.toString('latin1');
  }

  put(key: string, peer: Peer, nowMs: number): boolean {
    const at = this.index.get(key);
    if (at !== undefined) {
      const item = this.items[at]!;
      item.peer = peer;
      item.seenMs = nowMs;
      return false;
    }
    this.index.set(key, this.items.length);
    this.items.push({ peer, seenMs: nowMs });
    return true;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  delete(key: string): boolean {
    const at = this.index.get(key);
    if (at === undefined) return false;
    this.removeAt(at, key);
    return true;
  }

  private removeAt(at: number, key: string): void {
    const last = this.items.length - 1;
    this.index.delete(key);
    if (at !== last) {
      const moved = this.items[last]!;
      this.items[at] = moved;
      this.index.set(PeerList.key(moved.peer), at);
    }
    this.items.pop();
  }

  /** Removes every peer seen before `cutoffMs`; returns how many. Safe for any mix of expired and live entries. */
  collect(cutoffMs: number): number {
    let removed = 0;
    // Walk backwards: removeAt moves the last item into the hole, which has already been checked.
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (item.seenMs < cutoffMs) {
        this.removeAt(i, PeerList.key(item.peer));
        removed++;
      }
    }
    return removed;
  }

  /** Appends peers to `out` until it holds `max`, starting at a random offset, skipping `skipKey`. */
  sample(out: Peer[], max: number, skipKey: string): void {
    const n = this.items.length;
    if (n === 0 || out.length >= max) return;
    const skipAt = this.index.get(skipKey) ?? -1;
    const start = n > max - out.length ? Math.floor(Math.random() * n) : 0;
    const items = this.items;
    // Two plain runs (start..end, then 0..start) instead of a modulo per step.
    for (let at = start; at < n && out.length < max; at++) if (at !== skipAt) out.push(items[at]!.peer);
    for (let at = 0; at < start && out.length < max; at++) if (at !== skipAt) out.push(items[at]!.peer);
  }
}
