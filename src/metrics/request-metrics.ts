/**
 * privtrak_requests_total and privtrak_request_duration_seconds, counted in typed arrays.
 *
 * Why not prom-client's Counter and Histogram: their observe()/inc() build a label object and a
 * hash string on every call, even through a bound child (`labels(...)` only validates once).
 * That was about 480 bytes of garbage per request, an eighth of everything the UDP announce path
 * allocated (a sampling heap profile under bench/open-loop.sh), and young-generation GC is where
 * the tracker's tail latency goes. Here a request is two array increments and a bucket search.
 *
 * The two objects below are registered in the prom-client Registry as metrics of their own:
 * a Registry only needs `name`, `help`, `type`, `aggregator`, `get()` and `reset()`, and get()
 * returns the shape prom-client's own Counter and Histogram return, so the text format, the
 * JSON used by `serve --workers N` (AggregatorRegistry) and readers of getSingleMetric() see no
 * difference. Only label sets that saw a request are exported, as prom-client does.
 */
import type { Registry } from 'prom-client';

export type Frontend = 'http' | 'udp';
export type Action = 'announce' | 'scrape' | 'connect' | 'other';
export type Outcome = 'ok' | 'client_error' | 'internal_error';

const FRONTENDS: readonly Frontend[] = ['http', 'udp'];
const ACTIONS: readonly Action[] = ['announce', 'scrape', 'connect', 'other'];
const OUTCOMES: readonly Outcome[] = ['ok', 'client_error', 'internal_error'];
const FRONTEND_AT: Record<Frontend, number> = { http: 0, udp: 1 };
const ACTION_AT: Record<Action, number> = { announce: 0, scrape: 1, connect: 2, other: 3 };
const OUTCOME_AT: Record<Outcome, number> = { ok: 0, client_error: 1, internal_error: 2 };

/** Upper bounds in seconds (the +Inf bucket is implied). */
export const LATENCY_BUCKETS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1];

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

/** A metric as a prom-client Registry sees it. */
interface RegistrableMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<MetricData>;
  reset(): void;
}

export class RequestMetrics {
  /** Requests per (frontend, action, outcome): index (f * 4 + a) * 3 + o. */
  private readonly counts = new Float64Array(FRONTENDS.length * ACTIONS.length * OUTCOMES.length);
  /** Per (frontend, action), index f * 4 + a: one count per bucket (not cumulative; +Inf last), then sum. */
  private readonly buckets = new Float64Array(FRONTENDS.length * ACTIONS.length * (LATENCY_BUCKETS.length + 1));
  private readonly sums = new Float64Array(FRONTENDS.length * ACTIONS.length);
  private readonly observed = new Float64Array(FRONTENDS.length * ACTIONS.length);

  constructor(registry: Registry) {
    registry.registerMetric(this.counterMetric() as never);
    registry.registerMetric(this.histogramMetric() as never);
  }

  /** Counts one request that took `seconds`. */
  observe(frontend: Frontend, action: Action, outcome: Outcome, seconds: number): void {
    const fa = FRONTEND_AT[frontend] * ACTIONS.length + ACTION_AT[action];
    this.counts[fa * OUTCOMES.length + OUTCOME_AT[outcome]]!++;
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++;
    this.buckets[fa * (LATENCY_BUCKETS.length + 1) + b]!++;
    this.sums[fa]! += seconds;
    this.observed[fa]!++;
  }

  private counterMetric(): RegistrableMetric {
    const name = 'privtrak_requests_total';
    const help = 'Requests handled, by frontend, action and outcome.';
    const get = async (): Promise<MetricData> => {
      const values: MetricValue[] = [];
      for (let i = 0; i < this.counts.length; i++) {
        if (this.counts[i] === 0) continue;
        const o = i % OUTCOMES.length;
        const fa = (i - o) / OUTCOMES.length;
        values.push({ value: this.counts[i]!, labels: { frontend: FRONTENDS[Math.floor(fa / ACTIONS.length)]!, action: ACTIONS[fa % ACTIONS.length]!, outcome: OUTCOMES[o]! } });
      }
      return { name, help, type: 'counter', values, aggregator: 'sum' };
    };
    return { name, help, type: 'counter', aggregator: 'sum', get, reset: () => this.counts.fill(0) };
  }

  private histogramMetric(): RegistrableMetric {
    const name = 'privtrak_request_duration_seconds';
    const help = 'Time from parsed request to response written.';
    const width = LATENCY_BUCKETS.length + 1;
    const get = async (): Promise<MetricData> => {
      const values: MetricValue[] = [];
      for (let fa = 0; fa < this.observed.length; fa++) {
        if (this.observed[fa] === 0) continue;
        const frontend = FRONTENDS[Math.floor(fa / ACTIONS.length)]!;
        const action = ACTIONS[fa % ACTIONS.length]!;
        let cumulative = 0;
        for (let b = 0; b < width; b++) {
          cumulative += this.buckets[fa * width + b]!;
          const le = b < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[b]! : '+Inf';
          values.push({ value: cumulative, labels: { le, frontend, action }, metricName: `${name}_bucket` });
        }
        values.push({ value: this.sums[fa]!, labels: { frontend, action }, metricName: `${name}_sum` });
        values.push({ value: this.observed[fa]!, labels: { frontend, action }, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    };
    const reset = (): void => {
      this.buckets.fill(0);
      this.sums.fill(0);
      this.observed.fill(0);
    };
    return { name, help, type: 'histogram', aggregator: 'sum', get, reset };
  }
}
