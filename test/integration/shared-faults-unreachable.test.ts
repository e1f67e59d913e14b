/**
 * Shared mode with Redis unreachable for a minute (issue 13, point 5): two `privtrak serve`
 * instances under announce load; the private redis-server is stopped with SIGSTOP for 60 s (its
 * connections stay open and nothing is answered: no reset tells the trackers anything), then
 * continued. Meanwhile every announce is refused with the retryable "tracker busy" within
 * command_timeout (500 ms here) — no hang, no crash —, and nothing is half-counted: commands the
 * trackers gave up on must not be applied when Redis wakes up. Service resumes by itself and the
 * sink's totals equal the load's model to the byte. (The one long case: 60 s.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redisOutage, runFaultScenario, sleep } from '../support/shared-faults.js';

const OUTAGE_MS = 60_000;
const COMMAND_TIMEOUT_MS = 500;

describe('shared mode: Redis unreachable for a minute', () => {
  it('SIGSTOP of Redis for 60 s: refused busy within command_timeout, trackers stay up, resumes, totals exact', { timeout: 120_000 }, (t) => runFaultScenario(t, {
    instances: 2, redis: { appendfsync: 'always' }, rate: 100, storage: { command_timeout: `${COMMAND_TIMEOUT_MS}ms` },
    // Announces Redis ran just before it stopped, whose replies came too late: at most those in flight (the load's 48).
    inDoubt: 48,
    async chaos(ctx) {
      await sleep(2000);
      const before = ctx.load.counts.maxBusyMs;
      assert.equal(before, 0, 'no refusal before the outage');
      await redisOutage(ctx, `Redis SIGSTOP for ${OUTAGE_MS / 1000} s at ${ctx.load.counts.accepted} accepted`, OUTAGE_MS,
        async () => ctx.redis!.pause(), async () => ctx.redis!.resume());
      const { maxBusyMs, unreachable } = ctx.load.counts;
      ctx.events.push(`slowest busy reply ${maxBusyMs} ms (command_timeout ${COMMAND_TIMEOUT_MS} ms)`);
      assert.equal(unreachable, 0, 'every announce got a reply (no hang up to the client\'s 3 s timeout)');
      assert.ok(maxBusyMs <= COMMAND_TIMEOUT_MS + 400, `refused within command_timeout (slowest ${maxBusyMs} ms)`);
      await sleep(3000);
    },
  }));
});
