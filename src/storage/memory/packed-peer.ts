/**
 * A peer of an announce reply, read out of a peer table. The store's rows are reused as soon as
 * the swarm changes, and a reply can wait for its turn's journal commit while other announces
 * run, so a reply owns a copy: all its peers' bytes (<peer_id 20><compact 6 | 18> each) in one
 * Buffer, and one small object per peer. `id` and `compact` are views made when a writer asks
 * (the compact IPv4 writer reads only `ipv4` and `port`), `ip` is formatted when asked (the
 * dictionary model only).
 */
import type { AddressFamily, Peer } from '../../bittorrent/types.js';
import { unpackPeer } from '../../bittorrent/ip.js';

export class PackedPeer implements Peer {
  constructor(
    private readonly bytes: Buffer,
    private readonly at: number,
    readonly family: AddressFamily,
    readonly port: number,
    readonly ipv4: number,
  ) {}

  get id(): Buffer {
    return this.bytes.subarray(this.at, this.at + 20);
  }

  get compact(): Buffer {
    return this.bytes.subarray(this.at + 20, this.at + (this.family === 4 ? 26 : 38));
  }

  get ip(): string {
    return unpackPeer(this.bytes, this.at + 20, this.family).ip;
  }
}
