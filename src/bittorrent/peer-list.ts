/**
 * The peers of an announce reply. A store hands its reply's peers over packed in one Buffer
 * (PackedPeerList): an object per peer was 2 KB of the 7 KB an HTTP announce allocated
 * (BENCHMARKS.md, "What the heap kept"), and every byte allocated per announce brings the next
 * scavenge closer. Writers copy the compact forms straight out of the bytes; a Peer object is
 * made only when one is asked for (the dictionary model, hooks, tests). A hook that builds its
 * own list wraps an array (ArrayPeerList).
 */
import type { AddressFamily, Peer } from './types.js';
import { unpackPeer, writePeers } from './ip.js';

export interface PeerList extends Iterable<Peer> {
  readonly length: number;
  /** Bytes of all compact forms: 6 per IPv4 peer (BEP 23), 18 per IPv6 peer (BEP 7). */
  readonly compactLength: number;
  /** Peer `index` as an object, or undefined past the end. */
  at(index: number): Peer | undefined;
  /** Writes every peer's compact form at `pos`, in list order; returns the position after the last. */
  writeCompact(out: Uint8Array, pos: number): number;
}

/** <peer_id 20><compact 6 | 18> per peer: the layout the stores copy their rows out in. */
export function packedStride(family: AddressFamily): number {
  return family === 4 ? 26 : 38;
}

/**
 * Peers of one family as <peer_id 20><compact> records, back to back. The list owns `bytes`:
 * a store's rows are reused as soon as its swarm changes, and a reply may wait (a journal
 * commit, a post-hook) while other announces run.
 */
export class PackedPeerList implements PeerList {
  readonly length: number;
  readonly compactLength: number;
  private readonly stride: number;

  /** `bytes` holds whole records only; a trailing partial record is not a peer. */
  constructor(private readonly bytes: Buffer, readonly family: AddressFamily) {
    this.stride = packedStride(family);
    this.length = Math.floor(bytes.length / this.stride);
    this.compactLength = this.length * (this.stride - 20);
  }

  at(index: number): Peer | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) return undefined;
    return new PackedPeer(this.bytes, index * this.stride, this.family);
  }

  writeCompact(out: Uint8Array, pos: number): number {
    const b = this.bytes;
    const len = this.stride - 20;
    for (let at = 20, i = 0; i < this.length; i++, at += this.stride) {
      for (let j = 0; j < len; j++) out[pos + j] = b[at + j]!;
      pos += len;
    }
    return pos;
  }

  *[Symbol.iterator](): Iterator<Peer> {
    for (let i = 0; i < this.length; i++) yield new PackedPeer(this.bytes, i * this.stride, this.family);
  }
}

/** Peers given as objects: a hook's own list, a test's, the empty list. */
export class ArrayPeerList implements PeerList {
  readonly compactLength: number;

  constructor(private readonly peers: readonly Peer[]) {
    let n = 0;
    for (const p of peers) n += p.family === 4 ? 6 : 18;
    this.compactLength = n;
  }

  get length(): number {
    return this.peers.length;
  }

  at(index: number): Peer | undefined {
    return Number.isInteger(index) && index >= 0 ? this.peers[index] : undefined;
  }

  writeCompact(out: Uint8Array, pos: number): number {
    return writePeers(this.peers, out, pos);
  }

  [Symbol.iterator](): Iterator<Peer> {
    return this.peers[Symbol.iterator]();
  }
}

export const NO_PEERS: PeerList = new ArrayPeerList([]);

/** One record of a PackedPeerList as a Peer; `id`, `compact` and `ip` are read when asked. */
class PackedPeer implements Peer {
  constructor(private readonly bytes: Buffer, private readonly at: number, readonly family: AddressFamily) {}

  get id(): Buffer {
    return this.bytes.subarray(this.at, this.at + 20);
  }

  get compact(): Buffer {
    return this.bytes.subarray(this.at + 20, this.at + packedStride(this.family));
  }

  get port(): number {
    const end = this.at + packedStride(this.family);
    return (this.bytes[end - 2]! << 8) | this.bytes[end - 1]!;
  }

  get ipv4(): number {
    return this.family === 4 ? this.bytes.readUInt32BE(this.at + 20) : 0;
  }

  get ip(): string {
    return unpackPeer(this.bytes, this.at + 20, this.family).ip;
  }
}
