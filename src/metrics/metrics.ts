/**
 * Prometheus metrics (prom-client). One Registry per tracker instance, so tests can run
 * several trackers in one process. The per-request ones are counted without allocation
 * (request-metrics.ts says why).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestMetrics, type Action, type Frontend, type Outcome } from './request-metrics.js';

export type { Action, Frontend, Outcome } from './request-metrics.js';

/** What the batched UDP socket read and did with its replies (frontend/udp/batch-socket.ts). */
export interface UdpSocketCounts {
  /** Not sent: the send buffer was full. */
  readonly dropped: number;
  /** Not sent: the kernel refused the address. */
  readonly refused: number;
  /** Sent with their batch (one sendmmsg per batch). */
  readonly batched: number;
  /** Sent alone (sendto): replies of asynchronous hooks, which come after their batch. */
  readonly alone: number;
  /** Reads (recvmmsg) that returned datagrams. */
  readonly reads: number;
  /** Reads followed by a coalescing pause (udp.coalesce_us). */
  readonly pauses: number;
}
const NO_COUNTS: UdpSocketCounts = { dropped: 0, refused: 0, batched: 0, alone: 0, reads: 0, pauses: 0 };

export class TrackerMetrics {
  /** The Prometheus registry every metric of this tracker is registered in (one per tracker: tests run several). */
  readonly prometheus: Registry;
  /** privtrak_requests_total and privtrak_request_duration_seconds. */
  readonly requests: RequestMetrics;
  readonly swarms: Gauge;
  readonly seeders: Gauge;
  readonly leechers: Gauge;
  readonly gcDuration: Histogram;
  readonly gcRemoved: Counter;
  readonly httpConnectionsRefused: Counter<'reason'>;
  readonly udpRepliesWithheld: Counter;
  private readOpenConnections: () => number = () => 0;
  private readUdpSocket: () => UdpSocketCounts = () => NO_COUNTS;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.prometheus = new Registry();
    const registers = [this.prometheus];
    this.requests = new RequestMetrics(this.prometheus);
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
    // These read the batched socket's counts at scrape time, one series per label value.
    const udpSocketCounter = (name: string, help: string, label: string, series: Record<string, (c: UdpSocketCounts) => number>) =>
      new Counter({
        name, help, labelNames: [label], registers,
        collect() {
          const counts = self.readUdpSocket();
          this.reset();
          for (const [value, read] of Object.entries(series)) this.labels(value).inc(read(counts));
        },
      });
    udpSocketCounter('privtrak_udp_replies_dropped_total',
      'UDP replies not sent, by reason: send_buffer_full (the socket\'s send buffer was full: raise udp.socket_buffer_size), '
        + 'refused (the kernel refused the address). Counted by the batched socket (udp.transport: batch); node:dgram queues instead.',
      'reason', { send_buffer_full: (c) => c.dropped, refused: (c) => c.refused });
    udpSocketCounter('privtrak_udp_replies_sent_total',
      'UDP replies sent by the batched socket (udp.transport: batch), by way: batch (with the batch of datagrams they answer, '
        + 'one sendmmsg per batch) or alone (sendto: the reply came after its batch, from an asynchronous hook).',
      'way', { batch: (c) => c.batched, alone: (c) => c.alone });
    udpSocketCounter('privtrak_udp_reads_total',
      'Reads of the batched UDP socket (one recvmmsg each, up to 64 datagrams) that returned datagrams, by what came after: '
        + 'pause (udp.coalesce_us: the socket was busy, so the next read waited for more datagrams) or none. '
        + 'Datagrams per read = privtrak_requests_total{frontend="udp"} / this.',
      'after', { pause: (c) => c.pauses, none: (c) => c.reads - c.pauses });
    // The process metrics, among them the event-loop delay (privtrak_nodejs_eventloop_lag_*_seconds,
    // from perf_hooks.monitorEventLoopDelay, reset at every scrape) and GC pauses
    // (privtrak_nodejs_gc_duration_seconds{kind}). The delay is sampled every 10 ms (prom-client's
    // default, said here on purpose): a stall of any length shows whole in the max, and each
    // sample includes the 10 ms (an idle loop reads about 0.010 s). A finer resolution would only
    // add timer wake-ups. Blind spot: Node's reset also forgets the last tick, so a stall that
    // begins within 10 ms after a scrape is not seen. test/metrics/runtime-metrics.test.ts checks
    // a 200 ms stall shows.
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.prometheus, prefix: 'privtrak_', eventLoopMonitoringPrecision: 10 });
    }
  }

  /** Where privtrak_http_connections is read at scrape time (the HTTP frontend's open connections). */
  httpConnectionsOpen(read: () => number): void {
    this.readOpenConnections = read;
  }

  /** Where privtrak_udp_replies_dropped_total, _sent_total and privtrak_udp_reads_total are read at scrape time (the UDP frontend's batched socket). */
  udpSocket(read: () => UdpSocketCounts): void {
    this.readUdpSocket = read;
  }

  /** Records one request. `startNs` is from process.hrtime.bigint(). */
  observe(frontend: Frontend, action: Action, outcome: Outcome, startNs: bigint): void {
    this.requests.observe(frontend, action, outcome, Number(process.hrtime.bigint() - startNs) / 1e9);
  }
}
