/**
 * In-memory swarm storage. Swarms are keyed by the info_hash bytes (latin1 string), each
 * with separate IPv4 and IPv6 seeder/leecher lists. All operations are synchronous and
 * O(1) apart from peer selection (O(numwant)) and garbage collection.
 */
import type { AddressFamily, Peer, ScrapeCounts, SwarmRole } from '../../bittorrent/types.js';
import type { AnnounceView, PeerStore } from '../peer-store.js';
import { PeerList } from './peer-list.js';
import type { Clock } from '../../clock.js';

class Swarm {
  readonly seeders4 = new PeerList();
  readonly leechers4 = new PeerList();
  readonly seeders6 = new PeerList();
  readonly leechers6 = new PeerList();
  seeders(family: AddressFamily): PeerList {
    return family === 4 ? this.seeders4 : this.seeders6;
  }

  leechers(family: AddressFamily): PeerList {
    return family === 4 ? this.leechers4 : this.leechers6;
  }

  get empty(): boolean {
    return this.seeders4.size + this.leechers4.size + this.seeders6.size + this.leechers6.size === 0;
  }
}

export class MemoryPeerStore implements PeerStore {
  private readonly swarms = new Map<string, Swarm>();
  /** Completed downloads per info_hash: kept apart from swarms so the count outlives an empty swarm. */
  private readonly downloads = new Map<string, number>();
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  private swarm(infoHash: Buffer): Swarm {
    const key = infoHash.toString('latin1');
    let swarm = this.swarms.get(key);
    if (swarm === undefined) {
      swarm = new Swarm();
      this.swarms.set(key, swarm);
    }
    return swarm;
  }

  putSeeder(infoHash: Buffer, peer: Peer): void {
    const swarm = this.swarm(infoHash);
    const key = PeerList.key(peer);
    // A peer is in one list at a time: a leecher that reports left=0 without `completed` moves over.
    swarm.leechers(peer.family).delete(key);
    swarm.seeders(peer.family).put(key, peer, this.clock.nowMs());
  }

  putLeecher(infoHash: Buffer, peer: Peer): void {
    const swarm = this.swarm(infoHash);
    const key = PeerList.key(peer);
    swarm.seeders(peer.family).delete(key);
    swarm.leechers(peer.family).put(key, peer, this.clock.nowMs());
  }

  deleteSeeder(infoHash: Buffer, peer: Peer): void {
    this.remove(infoHash, peer);
  }

  deleteLeecher(infoHash: Buffer, peer: Peer): void {
    this.remove(infoHash, peer);
  }

  private remove(infoHash: Buffer, peer: Peer): void {
    const key = infoHash.toString('latin1');
    const swarm = this.swarms.get(key);
    if (swarm === undefined) return;
    const peerKey = PeerList.key(peer);
    swarm.seeders(peer.family).delete(peerKey);
    swarm.leechers(peer.family).delete(peerKey);
    if (swarm.empty) this.swarms.delete(key);
  }

  graduateLeecher(infoHash: Buffer, peer: Peer): void {
    const swarm = this.swarm(infoHash);
    const key = PeerList.key(peer);
    swarm.leechers(peer.family).delete(key);
    swarm.seeders(peer.family).put(key, peer, this.clock.nowMs());
    const ih = infoHash.toString('latin1');
    this.downloads.set(ih, (this.downloads.get(ih) ?? 0) + 1);
  }

  announceView(infoHash: Buffer, announcer: Peer, role: SwarmRole, numWant: number): AnnounceView {
    const peers: Peer[] = [];
    let complete = 0;
    let incomplete = 0;
    const swarm = this.swarms.get(infoHash.toString('latin1'));
    if (swarm !== undefined) {
      const self = PeerList.key(announcer);
      const seeders = swarm.seeders(announcer.family);
      const leechers = swarm.leechers(announcer.family);
      if (role !== 'gone' && numWant > 0) {
        if (role === 'leecher') seeders.sample(peers, numWant, self);
        leechers.sample(peers, numWant, self);
      }
      complete = swarm.seeders4.size + swarm.seeders6.size;
      incomplete = swarm.leechers4.size + swarm.leechers6.size;
      // The announcer as it stands now, before the swarm hook applies its announce.
      if (seeders.has(self)) complete--;
      else if (leechers.has(self)) incomplete--;
    }
    if (role === 'seeder') complete++;
    else if (role === 'leecher') incomplete++;
    return { peers, complete, incomplete };
  }

  scrapeSwarm(infoHash: Buffer): ScrapeCounts {
    const key = infoHash.toString('latin1');
    const swarm = this.swarms.get(key);
    const downloaded = this.downloads.get(key) ?? 0;
    if (swarm === undefined) return { complete: 0, incomplete: 0, downloaded };
    return {
      complete: swarm.seeders4.size + swarm.seeders6.size,
      incomplete: swarm.leechers4.size + swarm.leechers6.size,
      downloaded,
    };
  }

  collectGarbage(cutoffMs: number): number {
    let removed = 0;
    for (const [key, swarm] of this.swarms) {
      removed += swarm.seeders4.collect(cutoffMs) + swarm.leechers4.collect(cutoffMs)
        + swarm.seeders6.collect(cutoffMs) + swarm.leechers6.collect(cutoffMs);
      // Deleting the current key while iterating a Map is safe in JS.
      if (swarm.empty) this.swarms.delete(key);
    }
    return removed;
  }

  stats(): { swarms: number; seeders: number; leechers: number } {
    let seeders = 0;
    let leechers = 0;
    for (const swarm of this.swarms.values()) {
      seeders += swarm.seeders4.size + swarm.seeders6.size;
      leechers += swarm.leechers4.size + swarm.leechers6.size;
    }
    return { swarms: this.swarms.size, seeders, leechers };
  }

  async stop(): Promise<void> {
    this.swarms.clear();
    this.downloads.clear();
  }
}
