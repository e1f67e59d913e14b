/**
 * What the status page reads, without disturbing what Prometheus reads.
 *
 * prom-client's event-loop collector resets its delay histogram at every collect (the
 * privtrak_nodejs_eventloop_lag_* gauges cover the time since the previous scrape). Were the
 * page's 2 s polls to run it, a Prometheus scrape would see only the delay since the page's last
 * poll, and miss the stalls before it. So the page's read skips that collector and measures the
 * delay with a histogram of its own (StatusLoopDelay), published under names no scrape carries.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Registry } from 'prom-client';
import type { MetricsJson } from './status-summary.js';

/** The collector that resets (prom-client sets the other lag gauges from it, so all are left out). */
const PROM_LOOP_PREFIX = 'privtrak_nodejs_eventloop_lag';
/** The page's own delay series: _p50_seconds, _p99_seconds, _max_seconds. */
export const STATUS_LOOP_PREFIX = 'privtrak_status_eventloop_delay';
/** Sampling step, ms: the same as the /metrics histogram's (metrics.ts), so both read alike. */
const RESOLUTION_MS = 10;
/** Without a read for this long the histogram is switched off (no timer wake-ups when nobody looks). */
const IDLE_MS = 60_000;

/**
 * The event-loop delay since the page's previous read. Enabled at the first read, so the first
 * answer has no values (the page shows a gap), and disabled after IDLE_MS without one.
 */
export class StatusLoopDelay {
  private histogram: IntervalHistogram | undefined;
  private idle: NodeJS.Timeout | undefined;

  snapshot(): MetricsJson {
    const h = this.histogram;
    const values = (q: 'p50' | 'p99' | 'max') => {
      if (h === undefined || h.count === 0) return [];
      const ns = q === 'max' ? h.max : h.percentile(q === 'p50' ? 50 : 99);
      return [{ value: ns / 1e9, labels: {} }];
    };
    const out = (['p50', 'p99', 'max'] as const).map((q) => ({
      name: `${STATUS_LOOP_PREFIX}_${q}_seconds`, help: `Event-loop delay ${q} since the status page's previous read.`,
      type: 'gauge', aggregator: 'max', values: values(q),
    })) as unknown as MetricsJson;
    if (h === undefined) {
      this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.histogram.enable();
      this.idle = setTimeout(() => this.stop(), IDLE_MS).unref();
    } else {
      h.reset();
      this.idle?.refresh();
    }
    return out;
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = undefined;
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
  }
}

/** The registry's metrics as getMetricsAsJSON gives them, but the resetting event-loop collector, plus the page's own delay. */
export async function statusMetricsJson(registry: Registry, loop: StatusLoopDelay): Promise<MetricsJson> {
  // What getMetricsAsJSON does, metric by metric (its type leaves out each metric's get()).
  const metrics = registry.getMetricsAsArray() as unknown as { name: string; get(): Promise<MetricsJson[number]> }[];
  const json = await Promise.all(metrics.filter((m) => !m.name.startsWith(PROM_LOOP_PREFIX)).map((m) => m.get()));
  return [...json, ...loop.snapshot()];
}
