/**
 * Shared mode on a Redis Cluster under tracker crashes (issue 13, point 5): two `privtrak serve`
 * instances on a private three-master Redis Cluster (test/support/redis-cluster.ts), one
 * PostgreSQL sink, under announce load. The instance holding the drain lease is killed with
 * SIGKILL (the other takes over and drains the groups of every master), then the other one; both
 * are restarted. Afterwards the sink's totals equal the load's model to the byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Cluster } from 'ioredis';
import { GROUPS, runFaultScenario, sleep } from '../support/shared-faults.js';

const LEASE_MS = 3000;

describe('shared mode on a three-master Redis Cluster: kill -9 of tracker instances', () => {
  it('the drain lease holder and then the other instance killed and restarted: the drainer works across masters, totals exact', { timeout: 90_000 }, (t) => runFaultScenario(t, {
    instances: 2, redis: 'cluster', rate: 150,
    async chaos({ fleet, load, admin, keys, pg: db, events }) {
      await sleep(2000);
      const holder = await fleet.waitLeaseHolder(LEASE_MS + 2000);
      await fleet.kill(holder);
      const killedAt = Date.now();
      const successor = await fleet.waitLeaseHolder(LEASE_MS + 3000, holder);
      const takeoverMs = Date.now() - killedAt;
      events.push(`drain lease holder ${holder} SIGKILL at ${load.counts.accepted} accepted; instance ${successor} took the lease after ${takeoverMs} ms`);
      assert.ok(takeoverMs <= LEASE_MS + 500, `lease taken over within the lease time (${takeoverMs} ms)`);
      await sleep(Math.random() * 1000);
      await fleet.restart(holder);
      await sleep(1000 + Math.random() * 1500);
      await fleet.kill(successor);
      events.push(`instance ${successor} SIGKILL at ${load.counts.accepted} accepted`);
      await sleep(Math.random() * 1000);
      await fleet.restart(successor);
      await sleep(2000);
      // Every group has been drained into the sink, and the groups live on all three masters.
      const client = new pg.Client({ connectionString: db.url, options: `-c search_path=${db.schema}` });
      await client.connect();
      const marks = await client.query<{ instance: string }>('SELECT instance FROM privtrak_batches WHERE applied_through > 0').finally(() => client.end());
      const drained = new Set(marks.rows.map((r) => r.instance));
      assert.deepEqual(Array.from({ length: GROUPS }, (_, g) => drained.has(keys.streamInstance(g))), Array.from({ length: GROUPS }, () => true), 'every group drained');
      const masters = new Set<string>();
      for (let g = 0; g < GROUPS; g++) {
        const node = (admin as Cluster).slots[Number(await admin.call('CLUSTER', 'KEYSLOT', keys.group(g).d))]![0]!;
        masters.add(node);
      }
      events.push(`the ${GROUPS} groups live on ${masters.size} masters`);
      assert.equal(masters.size, 3, 'the groups are spread over the three masters');
    },
  }));
});
