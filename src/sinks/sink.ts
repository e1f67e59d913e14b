/**
 * The delta sink interface: where the privtrak hook hands its batches. One file per sink,
 * all behind this interface and all passing the shared conformance suite
 * (test/sinks/sink-suite.ts).
 *
 * The contract that makes "every byte counted exactly once" hold:
 * - `apply` is atomic: it resolves only once the whole batch is durably stored, and
 *   rejects with nothing stored. A rejected batch is retried later, possibly regrouped.
 * - `apply` is idempotent by sequence number: in the same transaction as the totals it
 *   records `appliedThrough` (the batch ID, the highest seq applied for this instance), and
 *   skips every delta whose seq is not above the recorded value.
 * Sinks keep totals only. The peers' baselines are the tracker's own state: it keeps them in
 * its journal and checkpoints (src/middleware/privtrak/checkpoint.ts), not in the sink.
 *
 * Users are user keys (accounting/user-key.ts). A sink holding rows from before them (keyed by
 * passkeys: SQL schema 1, the log sink's old state file) refuses to open with LegacyDataError, and
 * `migrate(rekey)` rekeys it (accounting/legacy-data.ts).
 */
import type { Baseline, DeltaBatch } from '../accounting/delta.js';
import type { Rekey } from '../accounting/legacy-data.js';
import type { PriorityState } from './writer-priority.js';

export interface SinkState {
  /** Highest delta seq applied for the instance (0 if none). */
  readonly appliedThrough: number;
}

export interface TotalsQuery {
  /** Only this user (its 16-byte user key). */
  readonly user?: Buffer;
  /** One row per (user, info_hash) instead of per user. */
  readonly byTorrent: boolean;
}

/** Totals as integers: bigint, because byte counts may pass 2^53 over a user's lifetime. */
export interface TotalsRow {
  readonly user: Buffer;
  readonly infoHash?: Buffer;
  /** Credited bytes (after freeleech multipliers): what ratios count. */
  readonly uploaded: bigint;
  readonly downloaded: bigint;
  /** Raw bytes, as the clients reported them. */
  readonly rawUploaded: bigint;
  readonly rawDownloaded: bigint;
  /** Per-torrent rows: the site's torrent ID, if one was known (null otherwise). */
  readonly siteTorrentId?: bigint | null;
  readonly seedTime: bigint;
  readonly leechTime: bigint;
  readonly snatched: bigint;
}

/** A live peer's last counters as a site's previous announce server left them (DeltaSink.adoptableBaselines). */
export interface AdoptedBaseline {
  readonly user: Buffer;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly baseline: Baseline;
}

export interface DeltaSink {
  readonly name: string;
  /** Connects and checks the schema is there (SQLite creates it; PostgreSQL needs `privtrak migrate`). */
  open(): Promise<void>;
  /**
   * Creates or upgrades the schema. Idempotent. Legacy rows (keyed by passkeys) are rekeyed with
   * `rekey` in one step, merging the totals of old keys that become one user; without `rekey` that
   * is a LegacyDataError, and if `rekey` maps some legacy key to nothing, nothing changes and
   * UnmappedUserKeysError lists every such key (a rekey that maps nothing lists them all).
   */
  migrate(rekey?: Rekey): Promise<void>;
  /** What the tracker needs to resume after a restart. */
  load(instance: string): Promise<SinkState>;
  /** Applies a batch atomically and idempotently (see above). */
  apply(batch: DeltaBatch): Promise<void>;
  totals(query: TotalsQuery): Promise<TotalsRow[]>;
  close(): Promise<void>;
  /**
   * Optional, for sinks that write a site's tables (src/sites/): the counters the site's previous
   * announce server left for each live peer (UNIT3D's `peers` rows, Gazelle's `xbt_files_users`).
   * The privtrak hook adopts them as baselines on its very first start (no journal, no checkpoint,
   * mark 0), so the bytes a peer moves between its last announce to the old server and its first to
   * privtrak are counted from those counters, not lost as an unknown peer's.
   */
  adoptableBaselines?(): Promise<AdoptedBaseline[]>;
  /**
   * Optional, for sinks that write on a worker thread of their own (SQLite, the UNIT3D writer): that
   * thread's CPU priority (writer-priority.ts), known once open() resolved. The privtrak hook logs it.
   */
  readonly writerPriority?: { readonly state: PriorityState };
}
