/**
 * The accounting vocabulary that the privtrak hook and the sinks share (as chihaya's
 * `bittorrent/` package is for the tracker): a StatDelta is what one counted announce
 * contributes to a user's totals, a DeltaBatch is what a sink applies. A delta carries the raw
 * facts (peer, counters, event, time) as well as the credited deltas, so a sink can keep an
 * audit log and nothing is lost if accounting rules change later. This folder imports nothing
 * of the hook's or the sinks'.
 */
import type { AnnounceEvent } from '../bittorrent/types.js';

/** A peer's counters at its last counted announce: what its next announce's delta is taken against. */
export interface Baseline {
  uploaded: number;
  downloaded: number;
  left: number;
  /** Epoch ms of the last counted announce. */
  lastMs: number;
}

export interface StatDelta {
  /** Monotonic sequence number, unique per tracker instance; batches are contiguous ranges of it. */
  readonly seq: number;
  /** 16-byte user ID. */
  readonly user: Buffer;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly ip: string;
  readonly port: number;
  readonly event: AnnounceEvent;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  /** Raw bytes: what the client's counters say it transferred since its previous announce (rule table). */
  readonly deltaUp: number;
  readonly deltaDown: number;
  /**
   * Credited bytes: raw × the multipliers the freeleech hook set (ctx.uploadMultiplier /
   * ctx.downloadMultiplier; ×1 without it), rounded down. Totals count these; the raw bytes stay
   * beside them, so a policy changed later can be re-applied to history.
   */
  readonly creditUp: number;
  readonly creditDown: number;
  /** The site's own torrent ID (ctx.siteTorrentId, from torrent_approval's registry), or null. */
  readonly siteTorrentId: number | null;
  readonly seedTime: number;
  readonly leechTime: number;
  readonly snatch: boolean;
  /** Bit set of FLAG_* from rules.ts. */
  readonly flags: number;
  /** Epoch ms when the tracker received the announce. */
  readonly timeMs: number;
  /** The peer's baseline after this announce (null: removed). Sinks persist it for restarts. */
  readonly baseline: Baseline | null;
}

export interface DeltaBatch {
  /** The batch's ID: the sequence number of its last delta. */
  readonly id: number;
  readonly instance: string;
  /** The deltas in seq order. */
  readonly deltas: readonly StatDelta[];
  /**
   * The same deltas as delta records (delta-record.ts), when the batch comes from the
   * tracker: aggregateBatch() folds these without making an object per delta, and `deltas`
   * is then decoded only if a sink asks for it (a raw delta log). Valid until `apply` settles:
   * the flusher then reuses the memory for its next batch (a sink that keeps bytes copies them).
   */
  readonly records?: Buffer;
  /**
   * Set by a writer that holds a lease (the shared mode's stream drainer): the SQL sinks check it
   * in the apply transaction against privtrak_fences(name, token): a token below the recorded one
   * is refused (FencedError, nothing written), an equal or higher one is recorded. So a drainer
   * that was paused past its lease and resumes cannot write after its successor did.
   */
  readonly fence?: BatchFence;
}

/** A lease's fencing token (the shared mode's `P{drain}:fence`, INCR'd per acquisition). */
export interface BatchFence {
  /** Which lease: one row of privtrak_fences per name. At most 64 characters. */
  readonly name: string;
  /** Increases with every acquisition of the lease; at most 2^53-1. */
  readonly token: number;
}
