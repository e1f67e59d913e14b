/**
 * The Gazelle writer's Prometheus metrics, `privtrak_site_gazelle_*` (the UNIT3D writer has its
 * own prefix, so a registry may hold both). Got from the registry when already there: two writers
 * on one registry (a restart in a test, a second instance name) share the counters rather than
 * fail on registering a name twice.
 */
import { Counter, type Registry } from 'prom-client';
import type { DropReason } from './writer-plan.js';

export type GazelleTable = 'xbt_files_users' | 'user_stats' | 'torrent_stats' | 'xbt_snatched' | 'users_freeleeches';

export interface GazelleWriterMetrics {
  /** Rows written by committed batches, by table (a chunked statement counts its rows). */
  readonly rows: Counter<'table'>;
  /** Deltas (or their peer and torrent part) left out of a committed batch, by reason. */
  readonly dropped: Counter<'reason'>;
  /** Batches committed. */
  readonly batches: Counter;
  /** Peer rows the reaper marked inactive. */
  readonly reaped: Counter;
  /** Reaper rounds that failed (retried next interval). */
  readonly reaperErrors: Counter;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[] = []): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined)
    ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
}

export function gazelleWriterMetrics(registry: Registry): GazelleWriterMetrics {
  return {
    rows: counter(registry, 'privtrak_site_gazelle_rows_written_total', 'Rows the Gazelle writer wrote to the site tables, by table.', ['table']),
    dropped: counter(registry, 'privtrak_site_gazelle_deltas_dropped_total',
      'Deltas the Gazelle writer left out (wholly, or their peer/torrent rows), by reason: not a site user, user or torrent deleted, no torrent.', ['reason']),
    batches: counter(registry, 'privtrak_site_gazelle_batches_total', 'Batches the Gazelle writer committed.'),
    reaped: counter(registry, 'privtrak_site_gazelle_reaped_peers_total', 'xbt_files_users rows the reaper marked inactive (silent past the peer lifetime).'),
    reaperErrors: counter(registry, 'privtrak_site_gazelle_reaper_errors_total', 'Reaper rounds that failed (retried at the next interval).'),
  };
}

export function countDropped(m: GazelleWriterMetrics, dropped: Record<DropReason, number>): void {
  for (const [reason, n] of Object.entries(dropped)) if (n > 0) m.dropped.inc({ reason }, n);
}
