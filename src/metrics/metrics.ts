/**
 * Prometheus metrics (prom-client). One Registry per tracker instance, so tests can run
 * several trackers in one process. Label children for the hot path are bound once.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Frontend = 'http' | 'udp';
export type Action = 'announce' | 'scrape' | 'connect' | 'other';
export type Outcome = 'ok' | 'client_error' | 'internal_error';

export class TrackerMetrics {
  /** The Prometheus registry every metric of this tracker is registered in (one per tracker: tests run several). */
  readonly prometheus: Registry;
  readonly requests: Counter<'frontend' | 'action' | 'outcome'>;
  readonly latency: Histogram<'frontend' | 'action'>;
  readonly swarms: Gauge;
  readonly seeders: Gauge;
  readonly leechers: Gauge;
  readonly gcDuration: Histogram;
  readonly gcRemoved: Counter;
  readonly httpConnectionsRefused: Counter<'reason'>;
  readonly udpRepliesWithheld: Counter;
  private readOpenConnections: () => number = () => 0;
  private readonly children = new Map<number, { count: { inc(): void }; latency: { observe(v: number): void } }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.prometheus = new Registry();
    const registers = [this.prometheus];
    this.requests = new Counter({
      name: 'privtrak_requests_total', help: 'Requests handled, by frontend, action and outcome.',
      labelNames: ['frontend', 'action', 'outcome'], registers,
    });
    this.latency = new Histogram({
      name: 'privtrak_request_duration_seconds', help: 'Time from parsed request to response written.',
      labelNames: ['frontend', 'action'], registers,
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    });
    this.swarms = new Gauge({ name: 'privtrak_swarms', help: 'Swarms (info_hashes with at least one peer).', registers });
    this.seeders = new Gauge({ name: 'privtrak_seeders', help: 'Seeders across all swarms.', registers });
    this.leechers = new Gauge({ name: 'privtrak_leechers', help: 'Leechers across all swarms.', registers });
    this.gcDuration = new Histogram({
      name: 'privtrak_storage_gc_duration_seconds', help: 'Duration of swarm garbage collection runs (wall time; the memory store runs one in bounded steps, one per event-loop turn).', registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
    this.gcRemoved = new Counter({ name: 'privtrak_storage_gc_removed_peers_total', help: 'Peers dropped by garbage collection.', registers });
    const self = this;
    new Gauge({
      name: 'privtrak_http_connections', help: 'Open HTTP connections.', registers,
      collect() {
        this.set(self.readOpenConnections());
      },
    });
    this.httpConnectionsRefused = new Counter({
      name: 'privtrak_http_connections_refused_total', help: 'HTTP connections closed at accept, by reason (max_connections, per_ip).',
      labelNames: ['reason'], registers,
    });
    this.udpRepliesWithheld = new Counter({
      name: 'privtrak_udp_replies_withheld_total',
      help: 'UDP error replies not sent because they were larger than the request of a source whose connection ID did not check out.',
      registers,
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.prometheus, prefix: 'privtrak_' });
  }

  /** Where privtrak_http_connections is read at scrape time (the HTTP frontend's open connections). */
  httpConnectionsOpen(read: () => number): void {
    this.readOpenConnections = read;
  }

  /** Records one request. `startNs` is from process.hrtime.bigint(). */
  observe(frontend: Frontend, action: Action, outcome: Outcome, startNs: bigint): void {
    const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
    // Label children are looked up once and cached: labels() hashes its arguments on every call.
    const key = CHILD_KEYS[frontend][action][outcome];
    let child = this.children.get(key);
    if (child === undefined) {
      child = { count: this.requests.labels(frontend, action, outcome), latency: this.latency.labels(frontend, action) };
      this.children.set(key, child);
    }
    child.count.inc();
    child.latency.observe(seconds);
  }
}

/** A small integer per (frontend, action, outcome), so the child cache needs no string keys. */
const CHILD_KEYS = (() => {
  const keys = {} as Record<Frontend, Record<Action, Record<Outcome, number>>>;
  let n = 0;
  for (const f of ['http', 'udp'] as const) {
    keys[f] = {} as Record<Action, Record<Outcome, number>>;
    for (const a of ['announce', 'scrape', 'connect', 'other'] as const) {
      keys[f][a] = { ok: n++, client_error: n++, internal_error: n++ };
    }
  }
  return keys;
})();
