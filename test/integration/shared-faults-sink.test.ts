/**
 * Shared mode with the sink down while Redis is up (issue 13, point 5): two `privtrak serve`
 * instances reach PostgreSQL through a TCP proxy (test/support/tcp-proxy.ts) that is cut for
 * 15 s under announce load. The delta streams grow, each group's within its bound
 * (ceil(max_stream_entries / groups) = ceil(1,000 / 16) = 63, sampled with XLEN every 100 ms);
 * a group at its bound refuses announces with the retryable "tracker busy"; once the sink is
 * back everything drains and the sink's totals equal the load's model to the byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GROUPS, runFaultScenario, sleep, streamLengths, waitUntil } from '../support/shared-faults.js';

const MAX_STREAM_ENTRIES = 1000;
const PER_GROUP = Math.ceil(MAX_STREAM_ENTRIES / GROUPS);
const OUTAGE_MS = 15_000;

describe('shared mode: the sink down while Redis is up', () => {
  it('PostgreSQL cut for 15 s: the streams grow within max_stream_entries, then announces are refused busy; all drains after, totals exact', { timeout: 90_000 }, (t) => runFaultScenario(t, {
    instances: 2, redis: { appendfsync: 'always' }, rate: 200, sinkProxy: true,
    storage: { max_stream_entries: MAX_STREAM_ENTRIES },
    async chaos({ load, sinkProxy, admin, keys, events }) {
      await sleep(2000);
      const proxy = sinkProxy!;
      // The database goes away: live connections reset, new ones refused.
      proxy.setMode('refuse');
      proxy.cut();
      const busy0 = load.counts.busy;
      const peak = new Array<number>(GROUPS).fill(0);
      let peakTotal = 0;
      let fullAtMs: number | undefined;
      const t0 = Date.now();
      while (Date.now() - t0 < OUTAGE_MS) {
        const lengths = await streamLengths(admin, keys);
        lengths.forEach((n, g) => { peak[g] = Math.max(peak[g]!, n); });
        peakTotal = Math.max(peakTotal, lengths.reduce((a, b) => a + b, 0));
        if (fullAtMs === undefined && load.counts.busy > busy0) fullAtMs = Date.now() - t0;
        await sleep(100);
      }
      const refused = load.counts.busy - busy0;
      proxy.restore();
      // The load goes on: "drained" is the backlog back to what a second of load leaves between drains.
      const drainMs = await waitUntil('the streams drain once the sink is back', 20_000, async () => (await streamLengths(admin, keys)).reduce((a, b) => a + b, 0) < 200);
      events.push(`sink cut for ${OUTAGE_MS / 1000} s: streams peaked at ${peakTotal} entries in all (per group ${Math.min(...peak)}..${Math.max(...peak)}, bound ${PER_GROUP}); `
        + `first busy refusal ${fullAtMs ?? '-'} ms into the outage, ${refused} refused busy; backlog under 200 entries ${drainMs} ms after the sink came back`);
      assert.ok(Math.max(...peak) <= PER_GROUP, `no group's stream held more than its bound ${PER_GROUP} (peaks ${peak.join(',')})`);
      assert.ok(peak.filter((n) => n === PER_GROUP).length >= GROUPS / 2, `the streams grew to their bound (peaks ${peak.join(',')})`);
      assert.ok(refused > 0, 'announces to full groups were refused as busy');
      assert.equal(load.counts.unreachable, 0);
    },
  }));
});
