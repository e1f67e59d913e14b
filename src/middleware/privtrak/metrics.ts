/** Prometheus metrics of the privtrak hook. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class PrivtrakMetrics {
  readonly flushDuration: Histogram;
  readonly flushFailures: Counter;
  readonly batchesRetried: Counter;
  readonly deltas: Counter<'flag'>;
  readonly refused: Counter<'reason'>;
  readonly gcDuration: Histogram;

  readonly pending: Gauge;
  readonly oldestPendingAge: Gauge;
  readonly users: Gauge;
  readonly peers: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.flushDuration = new Histogram({
      name: 'privtrak_flush_duration_seconds', help: 'Time to apply one batch of deltas to the sink.', registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    });
    this.flushFailures = new Counter({ name: 'privtrak_flush_failures_total', help: 'Batches the sink rejected (kept and retried).', registers });
    this.batchesRetried = new Counter({ name: 'privtrak_batches_retried_total', help: 'Flush attempts that retry after a failure.', registers });
    this.deltas = new Counter({
      name: 'privtrak_deltas_total', help: 'Deltas computed, by flag (none, unknown_peer, counter_regression).',
      labelNames: ['flag'], registers,
    });
    this.refused = new Counter({
      name: 'privtrak_announces_refused_total', help: 'Announces refused by the privtrak hook, by reason (busy, closing, identity).',
      labelNames: ['reason'], registers,
    });
    this.gcDuration = new Histogram({
      name: 'privtrak_baseline_gc_duration_seconds', help: 'Duration of one baseline garbage collection pass.', registers,
      buckets: [0.001, 0.01, 0.1, 0.5, 1, 5],
    });
    // Gauges are refreshed every prometheus_reporting_interval by the hook (as in the Go original).
    this.pending = new Gauge({ name: 'privtrak_deltas_pending', help: 'Deltas waiting to be applied to the sink.', registers });
    this.oldestPendingAge = new Gauge({ name: 'privtrak_deltas_oldest_pending_seconds', help: 'Age of the oldest pending delta.', registers });
    this.users = new Gauge({ name: 'privtrak_users_tracked', help: 'Users with at least one peer baseline.', registers });
    this.peers = new Gauge({ name: 'privtrak_peers_tracked', help: 'Peer baselines kept (user, info_hash, peer_id).', registers });
  }
}
