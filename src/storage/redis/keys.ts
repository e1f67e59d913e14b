/**
 * Every Redis key name of the shared store, in one place (design-shared.md, "Key layout").
 * An info_hash belongs to group g = ((ih[0] << 8) | ih[1]) % groups; every key of a group carries
 * the hash tag `{<prefix>g<g>}`, so a group lives in one Cluster slot and one function call
 * touches one slot. Names are binary (the info_hash is raw bytes), so they are Buffers.
 */

/** The function library's version: function names carry it, so trackers of two versions sharing one Redis never call each other's code. */
export const LIBRARY_VERSION = 2;
export const LIBRARY_NAME = `privtrak_v${LIBRARY_VERSION}`;

/** Function names of the library (lua/privtrak.lua). */
export const FN = {
  announce: `pt_announce_v${LIBRARY_VERSION}`,
  counted: `pt_counted_v${LIBRARY_VERSION}`,
  scrape: `pt_scrape_v${LIBRARY_VERSION}`,
  gc: `pt_gc_v${LIBRARY_VERSION}`,
  lease: `pt_lease_v${LIBRARY_VERSION}`,
  leaseRelease: `pt_lease_release_v${LIBRARY_VERSION}`,
} as const;

/** The keys of one group that do not depend on the info_hash. */
export interface GroupKeys {
  readonly group: number;
  /** `{<prefix>g<g>}`: the hash tag, the prefix of every key of the group (the Lua builds swarm keys from it during GC). */
  readonly tag: Buffer;
  readonly seen: Buffer;
  readonly dl: Buffer;
  readonly n: Buffer;
  readonly b: Buffer;
  readonly bseen: Buffer;
  readonly d: Buffer;
}

/** The four swarm hashes of one info_hash: seeders/leechers per address family. */
export interface SwarmKeys {
  readonly s4: Buffer;
  readonly l4: Buffer;
  readonly s6: Buffer;
  readonly l6: Buffer;
}

export class KeySpace {
  private readonly groupKeys: GroupKeys[] = [];
  private readonly swarmPrefixes: { s4: Buffer; l4: Buffer; s6: Buffer; l6: Buffer }[] = [];

  constructor(readonly prefix: string, readonly groups: number) {
    for (let g = 0; g < groups; g++) {
      const tag = `{${prefix}g${g}}`;
      const k = (suffix: string) => Buffer.from(`${tag}:${suffix}`, 'latin1');
      this.groupKeys.push({ group: g, tag: Buffer.from(tag, 'latin1'), seen: k('seen'), dl: k('dl'), n: k('n'), b: k('b'), bseen: k('bseen'), d: k('d') });
      this.swarmPrefixes.push({ s4: k('s4:'), l4: k('l4:'), s6: k('s6:'), l6: k('l6:') });
    }
  }

  /** The group of an info_hash: its first two bytes, big-endian, modulo the group count. */
  groupOf(infoHash: Buffer): number {
    return ((infoHash[0]! << 8) | infoHash[1]!) % this.groups;
  }

  group(g: number): GroupKeys {
    return this.groupKeys[g]!;
  }

  swarm(infoHash: Buffer, g = this.groupOf(infoHash)): SwarmKeys {
    const p = this.swarmPrefixes[g]!;
    return {
      s4: Buffer.concat([p.s4, infoHash]), l4: Buffer.concat([p.l4, infoHash]),
      s6: Buffer.concat([p.s6, infoHash]), l6: Buffer.concat([p.l6, infoHash]),
    };
  }

  /** `P{meta}`: the keyspace's `groups` and library `version`. */
  get meta(): string {
    return `${this.prefix}{meta}`;
  }

  /** `P{gc}:lease`: the one instance that walks the groups for expired peers and baselines. */
  get gcLease(): string {
    return `${this.prefix}{gc}:lease`;
  }

  /** `P{drain}:lease` and `P{drain}:fence`: the active stream drainer and its fence token. */
  get drainLease(): string {
    return `${this.prefix}{drain}:lease`;
  }

  get drainFence(): string {
    return `${this.prefix}{drain}:fence`;
  }

  /** `P{inst}:<id>`: an instance's heartbeat. */
  instance(id: string): string {
    return `${this.prefix}{inst}:${id}`;
  }

  /** The sink's instance name for group g's stream (its applied mark): `<prefix>g<g>`. */
  streamInstance(g: number): string {
    return `${this.prefix}g${g}`;
  }
}
