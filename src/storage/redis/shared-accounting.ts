/**
 * The privtrak hook's shared mode talks to Redis through this interface: one atomic step per
 * counted announce (the library's pt_counted) updates the swarm, applies the rule table to the
 * peer's baseline kept in Redis and appends the delta record to the group's stream `T:d`
 * (entry ID `<seq>-1`, field `r` = the record), so a delta exists exactly when its baseline moved.
 */
import type { AnnounceEvent, Peer, SwarmRole } from '../../bittorrent/types.js';
import type { AnnounceView, PeerStore } from '../peer-store.js';

export interface CountedAnnounce {
  readonly infoHash: Buffer;
  readonly peer: Peer;
  /** roleAfter(req): what the view counts the announcer as. */
  readonly role: SwarmRole;
  readonly event: AnnounceEvent;
  readonly numWant: number;
  /** ctx.hidden: the peer is served and counted but kept out of the swarm (removed from it). */
  readonly hidden: boolean;
  /** 16-byte user key. The record carries the same bytes (at RECORD.user); the function reads them from there. */
  readonly user: Buffer;
  /**
   * 208 bytes: encodeRecord of a DeltaScratch filled from the request with zero deltas (the
   * request's facts, user, ids, site torrent id). The function patches seq, flags, bits, deltas,
   * seed/leech time, baseline and credited bytes; the caller's buffer is not changed.
   */
  readonly record: Buffer;
  /** Credit multipliers (ctx.uploadMultiplier ?? 1): credited = floor(raw × multiplier), capped at 2^53 - 1. */
  readonly upMult: number;
  readonly downMult: number;
  /** The announce's time (epoch ms): the baseline's lastMs and the peer's `seen` score. */
  readonly nowMs: number;
  /** Cap on seed/leech time per announce (computeDelta's maxGapMs). */
  readonly maxGapMs: number;
}

/** What the rule table made of the announce: the fields of its delta record. */
export interface CountedOutcome {
  readonly deltaUp: number;
  readonly deltaDown: number;
  readonly creditUp: number;
  readonly creditDown: number;
  readonly seedTime: number;
  readonly leechTime: number;
  readonly snatch: boolean;
  /** Bit set of FLAG_* (rules.ts). */
  readonly flags: number;
  /** The record's seq: the group's sequence number, also its stream entry ID `<seq>-1`. */
  readonly seq: number;
  /** The info_hash's group. */
  readonly group: number;
}

export interface CountedResult {
  /** What the announce is answered with, as PeerStore.announceView would give it. */
  readonly view: AnnounceView;
  readonly outcome: CountedOutcome;
}

export interface SharedAccounting {
  /** Shard groups of the keyspace (fixed for it). */
  readonly groups: number;
  /** `storage.config.key_prefix`: the sink instance of group g's stream is `<keyPrefix>g<g>`. */
  readonly keyPrefix: string;
  /** `storage.config.max_stream_entries`, when known (for the metrics; test doubles may leave it out). */
  readonly maxStreamEntries?: number;
  /**
   * One atomic step (pt_counted). Rejects with ClientError TRACKER_BUSY on backlog or Redis
   * trouble. On backlog nothing changed. On a timeout or a lost connection the step may have run
   * with its reply lost, but Redis never runs it after the deadline (send time + command_timeout):
   * it cannot land behind the client's next announce, which is counted from wherever this one
   * left the baseline.
   */
  countedAnnounce(a: CountedAnnounce): Promise<CountedResult>;
  /** The privtrak hook's baseline_lifetime: baselines silent for longer are collected by the store's GC walk. */
  setBaselineLifetime(ms: number): void;
}

/** Whether the tracker's store is the shared one (storage: {name: redis}): the privtrak hook then counts through it. */
export function isSharedAccounting(store: PeerStore): store is PeerStore & SharedAccounting {
  const s = store as Partial<SharedAccounting>;
  return typeof s.countedAnnounce === 'function' && typeof s.setBaselineLifetime === 'function' && typeof s.groups === 'number' && typeof s.keyPrefix === 'string';
}
