/**
 * The swarm storage interface (chihaya's storage.PeerStore). Methods may be synchronous
 * (memory) or return Promises (Redis); callers handle both. Swarms are kept per info_hash
 * and per address family: an IPv4 announcer is only given IPv4 peers and vice versa.
 */
import type { AddressFamily, Peer, ScrapeCounts, SwarmRole } from '../bittorrent/types.js';
import type { PeerList } from '../bittorrent/peer-list.js';

export type Maybe<T> = T | Promise<T>;

export interface PeerStore {
  putSeeder(infoHash: Buffer, peer: Peer): Maybe<void>;
  deleteSeeder(infoHash: Buffer, peer: Peer): Maybe<void>;
  putLeecher(infoHash: Buffer, peer: Peer): Maybe<void>;
  deleteLeecher(infoHash: Buffer, peer: Peer): Maybe<void>;
  /** Moves a leecher to the seeders and counts one completed download. */
  graduateLeecher(infoHash: Buffer, peer: Peer): Maybe<void>;
  /**
   * What an announce is answered with, read in one step:
   * - up to `numWant` peers of the announcer's family, never the announcer itself: a seeder gets
   *   only leechers, a leecher seeders first, then leechers; 'gone' (stopped) gets none;
   * - the counts of the swarm as it will be once the announce is applied (both families), the
   *   announcer counted as `role` or not at all when 'gone', as opentracker, Ocelot and
   *   UNIT3D-Announce answer: the first seeder of a swarm is told there is one seeder.
   */
  announceView(infoHash: Buffer, announcer: Peer, role: SwarmRole, numWant: number): Maybe<AnnounceView>;
  /** Counts over both families; `downloaded` counts completed events. */
  scrapeSwarm(infoHash: Buffer): Maybe<ScrapeCounts>;
  /** Removes peers not seen since `cutoffMs` (epoch ms). Returns how many were removed. */
  collectGarbage(cutoffMs: number): Maybe<number>;
  /** Current sizes, for metrics. */
  stats(): Maybe<{ swarms: number; seeders: number; leechers: number }>;
  /**
   * Optional: connects a store that lives elsewhere (Redis: connects, loads its functions, checks
   * its keyspace). The tracker awaits it before its hooks start; a rejection stops the start.
   */
  start?(): Promise<void>;
  stop(): Promise<void>;
}

export interface AnnounceView {
  /** Packed by the stores: no object per peer (peer-list.ts). */
  readonly peers: PeerList;
  readonly complete: number;
  readonly incomplete: number;
}

export interface PeerStoreOptions {
  /** Peers silent for longer than this are dropped (ms). */
  readonly peerLifetimeMs: number;
  /** How often garbage collection runs (ms). */
  readonly gcIntervalMs: number;
}
