/**
 * Shared mode under tracker crashes (issue 13, point 5): three `privtrak serve` instances on one
 * private Redis (AOF, appendfsync always) and one PostgreSQL sink, under announce load. Instances
 * are killed with SIGKILL at random moments and restarted, and once the instance holding the
 * drain lease is killed: another one must take the lease over within the lease time. Afterwards
 * the sink's totals equal the load's model to the byte (test/support/shared-faults.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runFaultScenario, sleep } from '../support/shared-faults.js';

/** flush_interval 100ms: the drain lease lasts max(3 s, 10 × flush_interval) = 3 s. */
const LEASE_MS = 3000;

describe('shared mode: kill -9 of tracker instances under load', () => {
  it('random kills and a kill of the drain lease holder: the lease moves within its time, totals exact', { timeout: 90_000 }, (t) => runFaultScenario(t, {
    instances: 3, redis: { appendfsync: 'always' }, rate: 150,
    async chaos({ fleet, load, events }) {
      await sleep(1500);
      // Six kills of a random instance at random moments, each restarted after a random pause.
      for (let k = 0; k < 6; k++) {
        await sleep(300 + Math.random() * 1500);
        const victim = Math.floor(Math.random() * fleet.size);
        await fleet.kill(victim);
        events.push(`instance ${victim} SIGKILL at ${load.counts.accepted} accepted`);
        await sleep(Math.random() * 1000);
        await fleet.restart(victim);
      }
      // The active drainer: found by its metrics, killed mid-drain; another instance takes over.
      const holder = await fleet.waitLeaseHolder(LEASE_MS + 2000);
      await fleet.kill(holder);
      const killedAt = Date.now();
      const successor = await fleet.waitLeaseHolder(LEASE_MS + 3000, holder);
      const takeoverMs = Date.now() - killedAt;
      events.push(`drain lease holder ${holder} SIGKILL at ${load.counts.accepted} accepted; instance ${successor} took the lease after ${takeoverMs} ms (lease ${LEASE_MS} ms)`);
      // The lease expires at most LEASE_MS after its last renewal; the next drainer tick (100 ms) and the metrics poll add a little.
      assert.ok(takeoverMs <= LEASE_MS + 500, `lease taken over within the lease time (${takeoverMs} ms)`);
      await fleet.restart(holder);
      await sleep(1500);
      assert.ok(fleet.kills >= 7 && fleet.restarts === fleet.kills, `${fleet.kills} kills, ${fleet.restarts} restarts`);
    },
  }));
});
