/**
 * /status.json from the registries as `serve --workers N` merges them (cluster-metrics.ts):
 * counters and histograms summed across workers, gauges of shared state (swarms) not counted once
 * per worker, one instance row per worker; and the shared mode recognised by its drain metrics.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry } from 'prom-client';
import { TrackerMetrics } from '../../src/metrics/metrics.js';
import { DrainMetrics } from '../../src/middleware/privtrak/shared/drain-metrics.js';
import { labelWorker } from '../../src/cli/workers/cluster-metrics.js';
import { summarize } from '../../src/metrics/status-summary.js';

const at = (ms: number) => process.hrtime.bigint() - BigInt(ms * 1e6);

/** A worker's metrics after `announces` announces of about 2 ms each, seeing `swarms` swarms in the shared store. */
function worker(announces: number, swarms: number, drain = false): TrackerMetrics {
  const m = new TrackerMetrics({ defaultMetrics: false });
  for (let i = 0; i < announces; i++) m.observe('http', 'announce', 'ok', at(2));
  m.observe('udp', 'announce', 'client_error', at(0));
  m.swarms.set(swarms);
  if (drain) new DrainMetrics(m.prometheus).leaseHeld.set(1);
  return m;
}

describe('status summary', () => {
  it('sums counters and histograms across workers, takes shared gauges once, lists each worker', async () => {
    const [w1, w2] = [worker(3, 40), worker(5, 40)];
    const merged = AggregatorRegistry.aggregate([
      labelWorker(await w1.prometheus.getMetricsAsJSON(), 1),
      labelWorker(await w2.prometheus.getMetricsAsJSON(), 2),
    ]);
    const s = summarize(await merged.getMetricsAsJSON(), { shown: true }, 1234);
    assert.equal(s.at, 1234);
    assert.equal(s.mode, 'workers');
    assert.deepEqual(s.config, { shown: true });
    const ok = s.requests.find((r) => r.frontend === 'http' && r.action === 'announce' && r.outcome === 'ok');
    assert.equal(ok?.total, 8);
    assert.equal(s.requests.find((r) => r.frontend === 'udp')?.total, 2);
    assert.equal(s.swarms.swarms, 40, 'a gauge of the shared store is not counted once per worker');
    const http = s.latency.find((l) => l.frontend === 'http' && l.action === 'announce')!;
    assert.equal(http.counts.at(-1), 8, 'the +Inf bucket holds every announce of both workers');
    assert.equal(http.counts.length, http.le.length + 1);
    const below = http.counts[http.le.indexOf(0.001)]!;
    const upTo = http.counts[http.le.indexOf(0.005)]!;
    assert.ok(below === 0 && upTo === 8, `2 ms announces fall between the 1 ms and 5 ms bounds (${below}, ${upTo})`);
    assert.deepEqual(s.instances.map((i) => [i.instance, i.requests_total]), [['worker 1', 4], ['worker 2', 6]]);
    assert.equal(s.deltas, null, 'no privtrak hook, no deltas');
  });

  it('a single process is one instance; the drain lease makes it shared mode', async () => {
    const single = summarize(await worker(1, 1).prometheus.getMetricsAsJSON(), {});
    assert.equal(single.mode, 'single process');
    assert.deepEqual(single.instances.map((i) => [i.instance, i.drain_lease_held]), [['this process', null]]);
    const shared = summarize(await worker(1, 1, true).prometheus.getMetricsAsJSON(), {});
    assert.equal(shared.mode, 'shared');
    assert.equal(shared.instances[0]!.drain_lease_held, 1);
  });
});
