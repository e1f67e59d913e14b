/**
 * The swarm storage interface (chihaya's storage.PeerStore). Methods may be synchronous
 * (memory) or return Promises (Redis); callers handle both. Swarms are kept per info_hash
 * and per address family: an IPv4 announcer is only given IPv4 peers and vice versa.
 */
import type { AddressFamily, Peer, ScrapeCounts, SwarmRole } from '../bittorrent/types.js';

export type Maybe<T> = T | Promise<T>;

export interface PeerStore {
  putSeeder(infoHash: Buffer, peer: Peer): Maybe<void>;
  deleteSeeder(infoHash: Buffer, peer: Peer): Maybe<void>;
  putLeecher(infoHash: Buffer, peer: Peer): Maybe<void>;
  deleteLeecher(infoHash: Buffer, peer: Peer): Maybe<void>;
  /** Moves a leecher to the seeders and counts one completed download. */
  graduateLeecher(infoHash: Buffer, peer: Peer): Maybe<void>;
  /**
   * Up to `numWant` peers of the announcer's family, never the announcer itself.
   * A seeder gets only leechers; a leecher gets seeders first, then leechers.
   */
  announcePeers(infoHash: Buffer, seeder: boolean, numWant: number, announcer: Peer): Maybe<Peer[]>;
  /** Counts over both families; `downloaded` counts completed events. */
  scrapeSwarm(infoHash: Buffer): Maybe<ScrapeCounts>;
  /**
   * The counts an announce is answered with: the swarm as it will be once the announce is applied,
   * the announcer itself counted as `role` (or not at all when 'gone'), as opentracker, Ocelot and
   * UNIT3D-Announce answer. The first seeder of a swarm is told there is one seeder.
   */
  announceCounts(infoHash: Buffer, announcer: Peer, role: SwarmRole): Maybe<ScrapeCounts>;
  /** Removes peers not seen since `cutoffMs` (epoch ms). Returns how many were removed. */
  collectGarbage(cutoffMs: number): Maybe<number>;
  /** Current sizes, for metrics. */
  stats(): Maybe<{ swarms: number; seeders: number; leechers: number }>;
  stop(): Promise<void>;
}

export interface PeerStoreOptions {
  /** Peers silent for longer than this are dropped (ms). */
  readonly peerLifetimeMs: number;
  /** How often garbage collection runs (ms). */
  readonly gcIntervalMs: number;
}
