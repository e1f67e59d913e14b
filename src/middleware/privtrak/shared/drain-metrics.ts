/** Prometheus metrics of the shared mode's stream drainer (stream-drainer.ts), on the tracker's registry. */
import { Counter, Gauge, type Registry } from 'prom-client';

export class DrainMetrics {
  /** Deltas applied to the sink from the streams by this instance. */
  readonly drained: Counter;
  /** Entries in all groups' streams (XLEN sum): waiting, or applied and not yet trimmed. Set by the lease holder, once per round. */
  readonly backlog: Gauge;
  /** 1 while this instance holds the drain lease. */
  readonly leaseHeld: Gauge;
  /** Batches the sink refused for a stale fence token (another instance took the lease). */
  readonly fenced: Counter;
  /** Drain attempts that failed (sink or Redis errors); retried with backoff. */
  readonly failures: Counter;

  /**
   * `backlogLimit` (storage.config.max_stream_entries) publishes `privtrak_drain_backlog_limit`, so an
   * alert compares the backlog with it without copying the config. The bound is enforced per group
   * (ceil(max_stream_entries / groups)): an uneven spread of announces over groups meets it earlier.
   */
  constructor(registry: Registry, backlogLimit?: number) {
    const registers = [registry];
    this.drained = new Counter({ name: 'privtrak_drain_deltas_total', help: 'Deltas this instance applied to the sink from the Redis streams.', registers });
    this.backlog = new Gauge({ name: 'privtrak_drain_backlog', help: 'Entries in the Redis delta streams (all groups): waiting, or applied and not yet trimmed. Reported by the drain lease holder.', registers });
    if (backlogLimit !== undefined) {
      new Gauge({
        name: 'privtrak_drain_backlog_limit',
        help: 'storage.config.max_stream_entries: the bound of privtrak_drain_backlog (enforced per group, ceil(max / groups)); at it announces are refused as busy.',
        registers,
      }).set(backlogLimit);
    }
    this.leaseHeld = new Gauge({ name: 'privtrak_drain_lease_held', help: '1 while this instance holds the drain lease (is the active drainer).', registers });
    this.fenced = new Counter({ name: 'privtrak_drain_fenced_total', help: 'Batches the sink refused for a stale fence token (the lease had passed to another instance).', registers });
    this.failures = new Counter({ name: 'privtrak_drain_failures_total', help: 'Drain attempts that failed (sink or Redis errors), retried with backoff.', registers });
  }
}
