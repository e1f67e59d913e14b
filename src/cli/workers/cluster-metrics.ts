/**
 * Metrics of `privtrak serve --workers N`: each worker keeps its own prom-client registry (its
 * requests, latencies, process CPU and memory); the primary serves metrics_addr and answers a
 * scrape by asking every live worker for its registry (IPC, bounded by a timeout) and merging
 * them with prom-client's AggregatorRegistry.aggregate. Every series gets a `worker` label (the
 * worker's slot, 1..N, kept across restarts) so nothing is summed that should not be — a gauge
 * that reads the shared store would otherwise count N times — and one scrape shows which worker
 * took what; `sum without (worker) (...)` gives the totals. The primary adds its own series
 * (privtrak_workers, privtrak_worker_restarts_total), unlabelled.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { MetricsSource } from '../../metrics/server.js';
import { StatusLoopDelay, statusMetricsJson } from '../../metrics/status-metrics.js';
import { isMessage, type MetricsJson, type MetricsReply, type MetricsRequest } from './messages.js';

/** A worker and its slot number (1..N), as the primary tracks them. */
export interface WorkerSlot {
  readonly slot: number;
  readonly worker: Worker | undefined;
}

/** Adds `worker="<slot>"` to every value of `metrics` (in place: the array came over IPC). */
export function labelWorker(metrics: MetricsJson, slot: number): MetricsJson {
  for (const m of metrics) for (const v of m.values) (v.labels as Record<string, string | number>)['worker'] = slot;
  return metrics;
}

export class ClusterMetrics implements MetricsSource {
  readonly contentType: string;
  /** The primary's own series. */
  readonly own = new Registry();
  readonly alive: Gauge;
  readonly restarts: Counter;
  private nextId = 0;

  constructor(private readonly slots: () => readonly WorkerSlot[], private readonly timeoutMs = 2000) {
    this.contentType = this.own.contentType;
    this.alive = new Gauge({ name: 'privtrak_workers', help: 'Worker processes started and serving.', registers: [this.own] });
    this.restarts = new Counter({ name: 'privtrak_worker_restarts_total', help: 'Workers restarted after an unexpected exit.', registers: [this.own] });
  }

  async metrics(): Promise<string> {
    return (await this.merged(false)).metrics();
  }

  /** What the status page reads from every worker (status-metrics.ts), merged the same way. */
  async statusMetrics(): Promise<MetricsJson> {
    return (await this.merged(true)).getMetricsAsJSON();
  }

  private async merged(status: boolean): Promise<Registry> {
    const replies = await Promise.all(this.slots().map((s) => (s.worker === undefined ? undefined : this.ask(s.worker, s.slot, status))));
    const all = [await this.own.getMetricsAsJSON(), ...replies.filter((r): r is MetricsJson => r !== undefined)];
    return AggregatorRegistry.aggregate(all);
  }

  /** One worker's metrics, labelled; undefined if it does not answer in time (it may be restarting). */
  private ask(worker: Worker, slot: number, status: boolean): Promise<MetricsJson | undefined> {
    if (!worker.isConnected()) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const done = (m: MetricsJson | undefined) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(m);
      };
      const onMessage = (m: unknown) => {
        if (isMessage<MetricsReply>(m, 'privtrak:metrics-res') && m.id === id) done(labelWorker(m.metrics, slot));
      };
      const onExit = () => done(undefined);
      const timer = setTimeout(() => done(undefined), this.timeoutMs);
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      const req: MetricsRequest = { type: 'privtrak:metrics-req', id, ...(status ? { status } : {}) };
      try {
        worker.send(req);
      } catch {
        done(undefined);
      }
    });
  }
}

/** Worker side: answers the primary's metrics requests from `registry` (the status page's from `statusLoop` too). */
export function answerMetricsRequests(registry: Registry, statusLoop: StatusLoopDelay): void {
  process.on('message', (m: unknown) => {
    if (!isMessage<MetricsRequest>(m, 'privtrak:metrics-req')) return;
    (m.status === true ? statusMetricsJson(registry, statusLoop) : registry.getMetricsAsJSON()).then(
      (metrics) => {
        const reply: MetricsReply = { type: 'privtrak:metrics-res', id: m.id, metrics };
        process.send?.(reply);
      },
      // A failed collect: the primary times this worker out and serves the others.
      () => undefined,
    );
  });
}
