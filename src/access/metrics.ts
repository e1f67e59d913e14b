/**
 * Registry metrics. The age gauge is computed when Prometheus scrapes, so it keeps growing
 * while the source is down: alert on it (e.g. age > 3 × refresh interval).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface RegistryStatus {
  readonly source: string;
  /** Epoch ms of the last successful load or refresh. */
  readonly lastSuccessMs: number;
  readonly users: number;
  readonly torrents: number;
}

export class RegistryMetrics {
  readonly refreshFailures: Counter;
  readonly refreshes: Counter<'kind'>;
  readonly rowsRejected: Counter;
  readonly refreshSeconds: Histogram<'kind'>;

  constructor(registry: Registry, status: () => RegistryStatus, now: () => number) {
    const registers = [registry];
    new Gauge({
      name: 'privtrak_registry_age_seconds',
      help: 'Seconds since the access registry last loaded or refreshed successfully (grows while its source is down).',
      labelNames: ['source'], registers,
      collect() {
        const s = status();
        this.labels(s.source).set(s.lastSuccessMs === 0 ? 0 : Math.max(0, (now() - s.lastSuccessMs) / 1000));
      },
    });
    new Gauge({
      name: 'privtrak_registry_users', help: 'Users in the access registry (after admin changes).', registers,
      collect() { this.set(status().users); },
    });
    new Gauge({
      name: 'privtrak_registry_torrents', help: 'Torrents in the access registry (after admin changes).', registers,
      collect() { this.set(status().torrents); },
    });
    this.refreshFailures = new Counter({
      name: 'privtrak_registry_refresh_failures_total', help: 'Registry refreshes that failed (the last good copy stayed in use).', registers,
    });
    this.refreshes = new Counter({
      name: 'privtrak_registry_refreshes_total', help: 'Successful registry loads and refreshes, by kind (full | incremental | unchanged).',
      labelNames: ['kind'], registers,
    });
    // Wall time, not CPU: a full reload runs in slices (work-slicer.ts), so under load it takes longer
    // while costing the same; this shows how long the old copy kept answering.
    this.refreshSeconds = new Histogram({
      name: 'privtrak_registry_refresh_duration_seconds', help: 'Wall time of successful registry loads and refreshes (reading the source, parsing, indexing), by kind.',
      labelNames: ['kind'], buckets: [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 30], registers,
    });
    this.rowsRejected = new Counter({
      name: 'privtrak_registry_rows_rejected_total', help: 'Rows a SQL source returned that were invalid and skipped.', registers,
    });
  }
}
