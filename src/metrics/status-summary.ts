/**
 * What /status.json holds: the metrics registry read as JSON (getMetricsAsJSON, or the workers'
 * merged registries) and reduced to what the status page draws. It is computed when the page
 * polls, from the same collectors a Prometheus scrape reads, so the announce path pays nothing.
 *
 * The event-loop delay is the page's own measure (status-metrics.ts says why).
 *
 * Counters and histogram buckets are sent cumulative: the page keeps the previous poll and turns
 * differences into rates and percentiles, so the server keeps no per-viewer state.
 *
 * In `serve --workers N` every series carries a `worker` label (cluster-metrics.ts): counters and
 * per-process gauges are summed across workers; gauges that read shared state (swarms, registry
 * age, the oldest pending delta) take the largest value instead of counting it N times.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { STATUS_LOOP_PREFIX } from './status-metrics.js';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];
type Labels = Record<string, string | number | undefined>;

export interface Histogram {
  /** Upper bounds of the buckets (seconds), without +Inf. */
  readonly le: number[];
  /** Cumulative counts per bucket, then the +Inf bucket (the total). */
  readonly counts: number[];
  readonly sum: number;
}

export interface InstanceState {
  /** "this process", or "worker N" under `serve --workers N`. */
  readonly instance: string;
  readonly requests_total: number;
  readonly rss_bytes: number | null;
  readonly event_loop_p99_seconds: number | null;
  readonly deltas_pending: number | null;
  /** Shared mode only (null otherwise): 1 while this instance holds the drain lease. */
  readonly drain_lease_held: number | null;
  readonly drain_deltas_total: number | null;
  readonly drain_failures_total: number | null;
  readonly drain_fenced_total: number | null;
}

export interface StatusSummary {
  /** Epoch ms when this was read. */
  readonly at: number;
  readonly version: string | null;
  /** "single process", "workers" (serve --workers N) or "shared" (drain metrics present: storage redis, several instances). */
  readonly mode: 'single process' | 'workers' | 'shared';
  readonly requests: { frontend: string; action: string; outcome: string; total: number }[];
  readonly refusals: { kind: string; reason: string; total: number }[];
  readonly latency: ({ frontend: string; action: string } & Histogram)[];
  readonly deltas: {
    pending: number; oldest_pending_seconds: number; journal_records: number; flush_failures_total: number;
    /** max_pending (per process), where announces start being refused as busy; null in shared mode. */
    pending_limit: number | null;
    drain_backlog: number | null;
    /** max_stream_entries (shared mode), the bound of the stream backlog. */
    drain_backlog_limit: number | null;
  } | null;
  readonly flush: Histogram | null;
  readonly registry: { source: string; age_seconds: number; users: number | null; torrents: number | null }[];
  readonly swarms: { swarms: number; seeders: number; leechers: number };
  readonly memory: { rss_bytes: number | null; heap_used_bytes: number | null };
  readonly event_loop: { p50_seconds: number | null; p99_seconds: number | null; max_seconds: number | null };
  readonly instances: InstanceState[];
  /** The running configuration, secrets masked (mask-secrets.ts). */
  readonly config: unknown;
}

const str = (v: unknown) => (v === undefined ? '' : String(v));

function find(metrics: MetricsJson, name: string): MetricObjectWithValues<MetricValue<string>> | undefined {
  return metrics.find((m) => m.name === name);
}

/** Sum of a metric's values (optionally only those matching `where`), or null when the metric is absent. */
function total(metrics: MetricsJson, name: string, where: (l: Labels) => boolean = () => true): number | null {
  const m = find(metrics, name);
  if (m === undefined) return null;
  let s = 0;
  for (const v of m.values) if (where(v.labels as Labels)) s += v.value;
  return s;
}

/** Largest value of a metric (a gauge of shared state, read once per worker), or null when absent. */
function largest(metrics: MetricsJson, name: string, where: (l: Labels) => boolean = () => true): number | null {
  const m = find(metrics, name);
  if (m === undefined) return null;
  let best: number | null = null;
  for (const v of m.values) if (where(v.labels as Labels) && (best === null || v.value > best)) best = v.value;
  return best;
}

/** Sums a metric's values grouped by some of its labels (the `worker` label is summed away). */
function grouped(metrics: MetricsJson, name: string, keys: readonly string[]): { labels: string[]; total: number }[] {
  const out = new Map<string, { labels: string[]; total: number }>();
  for (const v of find(metrics, name)?.values ?? []) {
    const labels = keys.map((k) => str((v.labels as Labels)[k]));
    const id = labels.join('\0');
    const row = out.get(id) ?? { labels, total: 0 };
    row.total += v.value;
    out.set(id, row);
  }
  return [...out.values()];
}

/** A histogram's buckets summed by `keys` (worker summed away): one entry per label combination. */
function histograms(metrics: MetricsJson, name: string, keys: readonly string[]): { labels: string[]; h: Histogram }[] {
  const out = new Map<string, { labels: string[]; buckets: Map<number, number>; sum: number }>();
  for (const v of find(metrics, name)?.values ?? []) {
    const l = v.labels as Labels;
    const labels = keys.map((k) => str(l[k]));
    const id = labels.join('\0');
    let row = out.get(id);
    if (row === undefined) out.set(id, (row = { labels, buckets: new Map(), sum: 0 }));
    // Histogram values name their series (_bucket, _sum, _count); the type of MetricValue leaves that out.
    const series = (v as { metricName?: string }).metricName;
    if (series === `${name}_bucket`) {
      const le = l['le'] === '+Inf' ? Infinity : Number(l['le']);
      row.buckets.set(le, (row.buckets.get(le) ?? 0) + v.value);
    } else if (series === `${name}_sum`) {
      row.sum += v.value;
    }
  }
  return [...out.values()].map(({ labels, buckets, sum }) => {
    const bounds = [...buckets.keys()].sort((a, b) => a - b);
    return { labels, h: { le: bounds.filter((b) => b !== Infinity), counts: bounds.map((b) => buckets.get(b)!), sum } };
  });
}

/** Builds the status page's JSON from a registry's metrics and the (already masked) configuration. */
export function summarize(metrics: MetricsJson, maskedConfig: unknown, now = Date.now()): StatusSummary {
  const workers = new Set<string>();
  for (const m of metrics) for (const v of m.values) if ((v.labels as Labels)['worker'] !== undefined) workers.add(str((v.labels as Labels)['worker']));
  const shared = find(metrics, 'privtrak_drain_lease_held') !== undefined;
  const version = find(metrics, 'privtrak_build_info')?.values[0]?.labels['version'];
  const pendingMetric = find(metrics, 'privtrak_deltas_pending');

  const instanceOf = (worker: string | undefined): InstanceState => {
    const only = (l: Labels) => worker === undefined || str(l['worker']) === worker;
    return {
      instance: worker === undefined ? 'this process' : `worker ${worker}`,
      requests_total: total(metrics, 'privtrak_requests_total', only) ?? 0,
      rss_bytes: total(metrics, 'privtrak_process_resident_memory_bytes', only),
      event_loop_p99_seconds: largest(metrics, `${STATUS_LOOP_PREFIX}_p99_seconds`, only),
      deltas_pending: total(metrics, 'privtrak_deltas_pending', only),
      drain_lease_held: total(metrics, 'privtrak_drain_lease_held', only),
      drain_deltas_total: total(metrics, 'privtrak_drain_deltas_total', only),
      drain_failures_total: total(metrics, 'privtrak_drain_failures_total', only),
      drain_fenced_total: total(metrics, 'privtrak_drain_fenced_total', only),
    };
  };

  const users = total(metrics, 'privtrak_registry_users');
  const torrents = total(metrics, 'privtrak_registry_torrents');
  return {
    at: now,
    version: version === undefined ? null : String(version),
    mode: shared ? 'shared' : workers.size > 0 ? 'workers' : 'single process',
    requests: grouped(metrics, 'privtrak_requests_total', ['frontend', 'action', 'outcome'])
      .map(({ labels: [frontend, action, outcome], total: t }) => ({ frontend: frontend!, action: action!, outcome: outcome!, total: t })),
    refusals: [
      ...grouped(metrics, 'privtrak_access_refused_total', ['hook', 'reason']).map((r) => ({ kind: r.labels[0]!, reason: r.labels[1]!, total: r.total })),
      ...grouped(metrics, 'privtrak_announces_refused_total', ['reason']).map((r) => ({ kind: 'announce', reason: r.labels[0]!, total: r.total })),
      ...grouped(metrics, 'privtrak_http_connections_refused_total', ['reason']).map((r) => ({ kind: 'connection', reason: r.labels[0]!, total: r.total })),
      ...grouped(metrics, 'privtrak_udp_replies_withheld_total', []).map((r) => ({ kind: 'udp', reason: 'reply_withheld', total: r.total })),
    ],
    latency: histograms(metrics, 'privtrak_request_duration_seconds', ['frontend', 'action'])
      .map(({ labels: [frontend, action], h }) => ({ frontend: frontend!, action: action!, ...h })),
    deltas: pendingMetric === undefined ? null : {
      pending: total(metrics, 'privtrak_deltas_pending') ?? 0,
      oldest_pending_seconds: largest(metrics, 'privtrak_deltas_oldest_pending_seconds') ?? 0,
      journal_records: total(metrics, 'privtrak_journal_records') ?? 0,
      flush_failures_total: total(metrics, 'privtrak_flush_failures_total') ?? 0,
      pending_limit: largest(metrics, 'privtrak_pending_limit'),
      drain_backlog: largest(metrics, 'privtrak_drain_backlog'),
      drain_backlog_limit: largest(metrics, 'privtrak_drain_backlog_limit'),
    },
    flush: histograms(metrics, 'privtrak_flush_duration_seconds', [])[0]?.h ?? null,
    registry: grouped(metrics, 'privtrak_registry_age_seconds', ['source']).map((r) => ({
      source: r.labels[0]!,
      age_seconds: largest(metrics, 'privtrak_registry_age_seconds', (l) => str(l['source']) === r.labels[0]) ?? 0,
      users: users === null ? null : workers.size > 0 ? largest(metrics, 'privtrak_registry_users') : users,
      torrents: torrents === null ? null : workers.size > 0 ? largest(metrics, 'privtrak_registry_torrents') : torrents,
    })),
    swarms: {
      swarms: largest(metrics, 'privtrak_swarms') ?? 0,
      seeders: largest(metrics, 'privtrak_seeders') ?? 0,
      leechers: largest(metrics, 'privtrak_leechers') ?? 0,
    },
    memory: {
      rss_bytes: total(metrics, 'privtrak_process_resident_memory_bytes'),
      heap_used_bytes: total(metrics, 'privtrak_nodejs_heap_size_used_bytes'),
    },
    event_loop: {
      p50_seconds: largest(metrics, `${STATUS_LOOP_PREFIX}_p50_seconds`),
      p99_seconds: largest(metrics, `${STATUS_LOOP_PREFIX}_p99_seconds`),
      max_seconds: largest(metrics, `${STATUS_LOOP_PREFIX}_max_seconds`),
    },
    instances: workers.size > 0 ? [...workers].sort((a, b) => Number(a) - Number(b)).map((w) => instanceOf(w)) : [instanceOf(undefined)],
    config: maskedConfig,
  };
}
