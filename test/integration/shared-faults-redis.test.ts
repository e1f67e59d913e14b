/**
 * Shared mode through Redis restarts (issue 13, point 5): two `privtrak serve` instances on a
 * private redis-server with AOF, under announce load. Redis is killed (SIGKILL) and restarted
 * twice with appendfsync always, and in another case stopped with SHUTDOWN (graceful) and
 * restarted with appendfsync everysec. While it is away announces are refused with the retryable
 * "tracker busy"; service resumes by itself; the sink's totals equal the load's model to the byte.
 */
import { describe, it } from 'node:test';
import { redisOutage, runFaultScenario, sleep } from '../support/shared-faults.js';

describe('shared mode: Redis restarted under load', () => {
  it('kill -9 of Redis twice, restarted from its AOF (appendfsync always): busy while away, resumes, totals exact', { timeout: 90_000 }, (t) => runFaultScenario(t, {
    instances: 2, redis: { appendfsync: 'always' }, rate: 150,
    // Announces Redis had run (and logged) when killed, before its reply: at most those in flight (the load's 48), twice.
    inDoubt: 96,
    async chaos(ctx) {
      await sleep(2000);
      for (let k = 1; k <= 2; k++) {
        await redisOutage(ctx, `Redis SIGKILL #${k} at ${ctx.load.counts.accepted} accepted`, 1500 + Math.round(Math.random() * 1000),
          () => ctx.redis!.down('kill'), () => ctx.redis!.start());
        await sleep(1000 + Math.random() * 2000);
      }
    },
  }));

  it('SHUTDOWN of Redis (graceful) and restart with appendfsync everysec: busy while away, resumes, totals exact', { timeout: 60_000 }, (t) => runFaultScenario(t, {
    instances: 2, redis: { appendfsync: 'everysec' }, rate: 150,
    // Announces Redis ran just before SHUTDOWN, whose replies did not get out: at most those in flight.
    inDoubt: 48,
    async chaos(ctx) {
      await sleep(2000);
      await redisOutage(ctx, `Redis SHUTDOWN at ${ctx.load.counts.accepted} accepted`, 2000,
        () => ctx.redis!.down('shutdown'), () => ctx.redis!.start());
      await sleep(2000);
    },
  }));
});
