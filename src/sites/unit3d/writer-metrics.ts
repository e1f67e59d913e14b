/**
 * The site writer's Prometheus metrics (privtrak_site_*). Looked up before they are made: a
 * writer reopened in the same process (or a test making two) shares the registry's metrics
 * instead of failing to register them twice.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export class SiteWriterMetrics {
  /** Rows written, by table (users, history, peers, torrents, unregistered_info_hashes). */
  readonly rows: Counter<'site' | 'table'>;
  /** Deltas or rows not written, by reason (not_site_user, no_torrent_id, user_gone, torrent_gone, unregistered_overflow). */
  readonly dropped: Counter<'site' | 'reason'>;
  /** Reaper actions: peers deactivated, peers deleted, rounds, failures. */
  readonly reaper: Counter<'site' | 'action'>;
  readonly applySeconds: Histogram<'site'>;
  /** Batches committed, by path: fast (no existence reads) or checked (redone with them: something was gone). */
  readonly batches: Counter<'site' | 'path'>;

  constructor(registry: Registry, readonly site: string) {
    this.rows = counter(registry, 'privtrak_site_rows_written_total', 'Rows the site writer wrote (inserted or updated), by table.', ['site', 'table']);
    this.dropped = counter(registry, 'privtrak_site_rows_dropped_total',
      'Deltas or rows the site writer left out, by reason: not_site_user (hashed user key), no_torrent_id, user_gone / torrent_gone (deleted from the site before the flush), unregistered_overflow.',
      ['site', 'reason']);
    this.reaper = counter(registry, 'privtrak_site_reaper_actions_total',
      'What the site writer\'s reaper did: deactivated (stale active peers rows), deleted (old inactive rows), rounds, failures.', ['site', 'action']);
    this.batches = counter(registry, 'privtrak_site_batches_total',
      'Batches the site writer committed, by path: fast (every user and torrent still there, no existence reads) or checked (done again with the locking reads because one was gone).',
      ['site', 'path']);
    this.applySeconds = (registry.getSingleMetric('privtrak_site_apply_duration_seconds') as Histogram<'site'> | undefined) ?? new Histogram({
      name: 'privtrak_site_apply_duration_seconds', help: 'Time to apply one batch to the site\'s tables (one transaction).',
      labelNames: ['site'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
    });
  }

  wrote(table: string, n: number): void {
    if (n > 0) this.rows.inc({ site: this.site, table }, n);
  }

  drop(reason: string, n: number): void {
    if (n > 0) this.dropped.inc({ site: this.site, reason }, n);
  }

  reaped(action: string, n: number): void {
    if (n > 0) this.reaper.inc({ site: this.site, action }, n);
  }
}
