/**
 * The status page's reads leave Prometheus's event-loop delay alone (src/metrics/status-metrics.ts):
 * a stall between two scrapes shows in the next scrape even when the page polled in between, and
 * the page sees the stall in its own delay series.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { TrackerMetrics } from '../../src/metrics/metrics.js';
import { STATUS_LOOP_PREFIX, StatusLoopDelay, statusMetricsJson } from '../../src/metrics/status-metrics.js';
import type { MetricsJson } from '../../src/metrics/status-summary.js';

const STALL_MS = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const value = (metrics: MetricsJson, name: string) => metrics.find((m) => m.name === name)?.values[0]?.value;

function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* the event loop is blocked: what the histograms must see */ }
}

it('a status read between two scrapes does not hide a stall from the second scrape', async () => {
  const metrics = new TrackerMetrics();
  const loop = new StatusLoopDelay();
  try {
    await metrics.prometheus.getMetricsAsJSON(); // a scrape: the /metrics histogram starts afresh
    const first = await statusMetricsJson(metrics.prometheus, loop); // enables the page's own histogram
    assert.ok(!first.some((m) => m.name.startsWith('privtrak_nodejs_eventloop_lag')), 'the resetting collector is left out');
    // Past the first ticks after a reset (Node's reset forgets the tick in progress), then a stall.
    await sleep(40);
    stall(STALL_MS);
    await sleep(40);
    const page = await statusMetricsJson(metrics.prometheus, loop);
    const pageMax = value(page, `${STATUS_LOOP_PREFIX}_max_seconds`) ?? 0;
    assert.ok(pageMax >= (STALL_MS * 0.8) / 1000, `the page sees the stall (max ${pageMax} s)`);
    const scrape = await metrics.prometheus.getMetricsAsJSON();
    const scrapeMax = value(scrape, 'privtrak_nodejs_eventloop_lag_max_seconds') ?? 0;
    assert.ok(scrapeMax >= (STALL_MS * 0.8) / 1000, `the next scrape still sees the stall after the page's read (max ${scrapeMax} s)`);
    assert.ok(!scrape.some((m) => m.name.startsWith(STATUS_LOOP_PREFIX)), 'the page\'s series are not in a scrape');
    const after = await statusMetricsJson(metrics.prometheus, loop);
    assert.ok((value(after, `${STATUS_LOOP_PREFIX}_max_seconds`) ?? 0) < (STALL_MS * 0.8) / 1000, 'each page read covers the time since the previous one');
  } finally {
    loop.stop();
  }
});
