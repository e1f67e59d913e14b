/**
 * Protocol types shared by every layer: what a frontend parses, what hooks see,
 * what storage keeps. Binary identifiers (info_hash, peer_id) are always raw
 * 20-byte Buffers; they are never decoded as text.
 */
import type { PeerList } from './peer-list.js';

export type AnnounceEvent = 'none' | 'started' | 'completed' | 'stopped';

export type AddressFamily = 4 | 6;

/** A peer as the tracker knows it. `compact` is its BEP 23 (6 bytes) or BEP 7 (18 bytes) form. */
export interface Peer {
  /** 20-byte peer_id. */
  readonly id: Buffer;
  /** Textual address ("192.0.2.1" or "2001:db8::1"); IPv4-mapped IPv6 is unmapped. */
  readonly ip: string;
  readonly port: number;
  readonly family: AddressFamily;
  /** Packed address and port, precomputed once so responses are concatenations. */
  readonly compact: Buffer;
  /** IPv4 address as an unsigned 32-bit number (0 for IPv6): lets writers pack 6-byte peers with plain stores. */
  readonly ipv4: number;
}

export interface AnnounceRequest {
  /** 20-byte info_hash. */
  readonly infoHash: Buffer;
  readonly peer: Peer;
  readonly event: AnnounceEvent;
  /** Bytes uploaded since `started`, as the client reports it (exact up to 2^53-1). */
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  /** Sanitised: default applied, capped by the frontend's max_numwant; 0 is allowed. */
  readonly numWant: number;
  /** Compact peer list wanted (HTTP; UDP is always compact). */
  readonly compact: boolean;
  /** Omit peer ids in the dictionary model (BEP 3 no_peer_id). */
  readonly noPeerId: boolean;
  /** Which frontend received it. */
  readonly transport: 'http' | 'udp';
}

export interface AnnounceResponse {
  interval: number;
  minInterval: number;
  complete: number;
  incomplete: number;
  /** Peers of the same address family as the announcer (a store's are packed, peer-list.ts). */
  ipv4Peers: PeerList;
  ipv6Peers: PeerList;
  /** Optional BEP 3 `warning message`. */
  warning?: string;
}

export interface ScrapeRequest {
  /** 20-byte info_hashes, already de-duplicated and capped. */
  readonly infoHashes: Buffer[];
  readonly family: AddressFamily;
  readonly transport: 'http' | 'udp';
}

export interface ScrapeCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

export interface ScrapeResponse {
  /** One entry per requested info_hash, in request order. */
  files: Array<{ infoHash: Buffer; counts: ScrapeCounts }>;
}

/** The seeder/leecher view of an announce: a peer with nothing left to download is a seeder. */
export function isSeeder(req: AnnounceRequest): boolean {
  return req.left === 0;
}

/** Where an announce puts its peer in the swarm: the swarm hook applies this, the response counts it. */
export type SwarmRole = 'seeder' | 'leecher' | 'gone';

export function roleAfter(req: AnnounceRequest): SwarmRole {
  if (req.event === 'stopped') return 'gone';
  return req.event === 'completed' || req.left === 0 ? 'seeder' : 'leecher';
}
