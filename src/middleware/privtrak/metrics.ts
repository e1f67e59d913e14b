/** Prometheus metrics of the privtrak hook. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { FLAG_COUNTER_REGRESSION, FLAG_UNKNOWN_PEER } from './rules.js';

const FLAG_LABELS = ['none', 'unknown_peer', 'counter_regression'] as const;

/** What the privtrak gauges show, read from the hook's parts. */
export interface GaugeSources {
  readonly journalRecords: number;
  readonly pending: number;
  readonly oldestPendingMs: number | undefined;
  readonly users: number;
  readonly peers: number;
  readonly peersActive: number;
}

export class PrivtrakMetrics {
  readonly flushDuration: Histogram;
  readonly flushFailures: Counter;
  readonly batchesRetried: Counter;
  readonly deltas: Counter<'flag'>;
  readonly refused: Counter<'reason'>;
  readonly gcDuration: Histogram;
  readonly checkpointDuration: Histogram;
  readonly checkpointFailures: Counter;
  readonly journalIoFallbacks: Counter;

  readonly pending: Gauge;
  readonly journalRecords: Gauge;
  readonly oldestPendingAge: Gauge;
  readonly users: Gauge;
  readonly peers: Gauge;
  readonly peersActive: Gauge;

  /** Deltas by flag, indexed like FLAG_LABELS. */
  private readonly deltaCounts = [0, 0, 0];

  /**
   * `limits.maxPending` (single-instance mode) publishes `privtrak_pending_limit`, so an alert can
   * compare `privtrak_deltas_pending` with the bound at which announces are refused as busy
   * without copying the config into the rule. The shared mode has no such bound per instance
   * (its backlog is bounded in Redis, per group) and passes none.
   */
  constructor(registry: Registry, limits: { readonly maxPending?: number } = {}) {
    const registers = [registry];
    this.flushDuration = new Histogram({
      name: 'privtrak_flush_duration_seconds', help: 'Time to apply one batch of deltas to the sink.', registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    });
    this.flushFailures = new Counter({ name: 'privtrak_flush_failures_total', help: 'Batches the sink rejected (kept and retried).', registers });
    this.batchesRetried = new Counter({ name: 'privtrak_batches_retried_total', help: 'Flush attempts that retry after a failure.', registers });
    // Counted in plain numbers on the announce path and handed to prom-client at scrape time:
    // a labelled inc() hashes its labels on every call, which showed in the announce profile.
    const counts = this.deltaCounts;
    const published = [0, 0, 0];
    this.deltas = new Counter({
      name: 'privtrak_deltas_total', help: 'Deltas computed, by flag (none, unknown_peer, counter_regression).',
      labelNames: ['flag'], registers,
      collect() {
        for (let i = 0; i < FLAG_LABELS.length; i++) {
          if (counts[i]! > published[i]!) this.inc({ flag: FLAG_LABELS[i]! }, counts[i]! - published[i]!);
          published[i] = counts[i]!;
        }
      },
    });
    this.refused = new Counter({
      name: 'privtrak_announces_refused_total', help: 'Announces refused by the privtrak hook, by reason (busy, closing, identity, journal).',
      labelNames: ['reason'], registers,
    });
    this.gcDuration = new Histogram({
      name: 'privtrak_baseline_gc_duration_seconds', help: 'Duration of one baseline garbage collection pass.', registers,
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5],
    });
    this.checkpointDuration = new Histogram({
      name: 'privtrak_checkpoint_duration_seconds', help: 'Time to write one baseline checkpoint.', registers,
      buckets: [0.01, 0.1, 0.5, 1, 5, 30, 120],
    });
    this.checkpointFailures = new Counter({ name: 'privtrak_checkpoint_failures_total', help: 'Baseline checkpoints that failed (the journal is kept).', registers });
    this.journalIoFallbacks = new Counter({
      name: 'privtrak_journal_io_fallbacks_total', help: 'Times the journal switched from mmap to write(2) at run time (mapping or fallocate unsupported).', registers,
    });
    this.journalRecords = new Gauge({ name: 'privtrak_journal_records', help: 'Journal records since the last checkpoint (replayed at a restart).', registers });
    // Gauges are refreshed every prometheus_reporting_interval by the hook (as in the Go original).
    this.pending = new Gauge({ name: 'privtrak_deltas_pending', help: 'Deltas waiting to be applied to the sink.', registers });
    this.oldestPendingAge = new Gauge({ name: 'privtrak_deltas_oldest_pending_seconds', help: 'Age of the oldest pending delta.', registers });
    if (limits.maxPending !== undefined) {
      new Gauge({
        name: 'privtrak_pending_limit', help: 'max_pending: at this many pending deltas (privtrak_deltas_pending) announces are refused as busy.', registers,
      }).set(limits.maxPending);
    }
    this.users = new Gauge({ name: 'privtrak_users_tracked', help: 'Users with at least one peer baseline.', registers });
    this.peers = new Gauge({ name: 'privtrak_peers_tracked', help: 'Peer baselines kept (user, info_hash, peer_id).', registers });
    this.peersActive = new Gauge({ name: 'privtrak_peers_active', help: 'Peer baselines that announced within peer_lifetime.', registers });
  }

  /** Refreshes the gauges (every prometheus_reporting_interval, as in the Go original). */
  report(s: GaugeSources, nowMs: number): void {
    this.journalRecords.set(s.journalRecords);
    this.pending.set(s.pending);
    this.oldestPendingAge.set(s.oldestPendingMs === undefined ? 0 : (nowMs - s.oldestPendingMs) / 1000);
    this.users.set(s.users);
    this.peers.set(s.peers);
    this.peersActive.set(s.peersActive);
  }

  /** Counts one delta by its flags (a delta may carry both flags). */
  countDelta(flags: number): void {
    if (flags === 0) this.deltaCounts[0]++;
    if ((flags & FLAG_UNKNOWN_PEER) !== 0) this.deltaCounts[1]++;
    if ((flags & FLAG_COUNTER_REGRESSION) !== 0) this.deltaCounts[2]++;
  }
}
