import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS, RequestMetrics, type Action, type Frontend, type Outcome } from '../../src/metrics/request-metrics.js';
import { prng } from '../support/prng.js';

/** prom-client's own Counter and Histogram, fed the same requests: the reference. */
function reference(): { registry: Registry; observe(f: Frontend, a: Action, o: Outcome, s: number): void } {
  const registry = new Registry();
  const count = new Counter({ name: 'privtrak_requests_total', help: 'Requests handled, by frontend, action and outcome.', labelNames: ['frontend', 'action', 'outcome'], registers: [registry] });
  const latency = new Histogram({ name: 'privtrak_request_duration_seconds', help: 'Time from parsed request to response written.', labelNames: ['frontend', 'action'], buckets: [...LATENCY_BUCKETS], registers: [registry] });
  return {
    registry,
    observe(f, a, o, s) {
      count.labels(f, a, o).inc();
      latency.labels(f, a).observe(s);
    },
  };
}

const FRONTENDS: Frontend[] = ['http', 'udp'];
const ACTIONS: Action[] = ['announce', 'scrape', 'connect', 'other'];
const OUTCOMES: Outcome[] = ['ok', 'client_error', 'internal_error'];

/** Lines of a scrape, sorted (series order within a metric is not part of the format). */
const lines = (text: string) => text.split('\n').filter((l) => l !== '').sort();

test('request metrics: the scrape text is what prom-client Counter and Histogram give for the same requests', async () => {
  const rnd = prng(14);
  const ref = reference();
  const registry = new Registry();
  const fast = new RequestMetrics(registry);
  // Latencies on every bucket bound exactly (le is inclusive), between bounds and past the last.
  const samples = [...LATENCY_BUCKETS, 0, 2, 30, ...LATENCY_BUCKETS.map((b) => b * 1.5)];
  for (let i = 0; i < 5000; i++) {
    // Most requests go to a few label sets, and some label sets never see one.
    const f = FRONTENDS[rnd() < 0.7 ? 1 : 0]!;
    const a = ACTIONS[Math.floor(rnd() * 3)]!;
    const o = OUTCOMES[rnd() < 0.9 ? 0 : Math.floor(rnd() * 3)]!;
    const s = i < samples.length ? samples[i]! : rnd() * rnd() * 0.02;
    ref.observe(f, a, o, s);
    fast.observe(f, a, o, s);
  }
  const want = lines(await ref.registry.metrics());
  const got = lines(await registry.metrics());
  // Sums are floating point added in the same order: equal to the last bit.
  assert.deepEqual(got, want);
  assert.ok(got.some((l) => l.startsWith('privtrak_request_duration_seconds_bucket{le="+Inf",frontend="udp",action="announce"}')));
  assert.ok(!got.some((l) => l.includes('action="other"')), 'label sets without a request are not exported');
});

test('request metrics: serve --workers merges them as it merges prom-client metrics, and reset empties them', async () => {
  const regs = [new Registry(), new Registry()];
  const fast = regs.map((r) => new RequestMetrics(r));
  const ref = [reference(), reference()];
  for (let w = 0; w < 2; w++) {
    for (let i = 0; i < 100 * (w + 1); i++) {
      fast[w]!.observe('udp', 'announce', 'ok', 0.0003 * (i % 7));
      ref[w]!.observe('udp', 'announce', 'ok', 0.0003 * (i % 7));
    }
    fast[w]!.observe('http', 'scrape', 'client_error', 0.002);
    ref[w]!.observe('http', 'scrape', 'client_error', 0.002);
  }
  const merged = await AggregatorRegistry.aggregate(await Promise.all(regs.map((r) => r.getMetricsAsJSON()))).metrics();
  const want = await AggregatorRegistry.aggregate(await Promise.all(ref.map((r) => r.registry.getMetricsAsJSON()))).metrics();
  assert.deepEqual(lines(merged), lines(want));
  assert.ok(merged.includes('privtrak_requests_total{frontend="udp",action="announce",outcome="ok"} 300'));

  regs[0]!.resetMetrics();
  const after = await regs[0]!.metrics();
  assert.ok(!/^privtrak_request/m.test(after.replace(/^#.*$/gm, '')), 'no series after reset');
});
