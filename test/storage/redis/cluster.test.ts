/**
 * The Redis store on a three-master Redis Cluster started by the test: the conformance suite, and
 * counted announces spread over groups on every master (each call one slot: the group's hash tag).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runPeerStoreSuite, peer } from '../peer-store-suite.js';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { ManualClock } from '../../../src/clock.js';
import { encodeRecord } from '../../../src/accounting/delta-record.js';
import { DeltaScratch } from '../../../src/middleware/privtrak/delta-scratch.js';
import type { AnnounceRequest } from '../../../src/bittorrent/types.js';
import type { RequestContext } from '../../../src/middleware/context.js';
import { freshPrefix, redisConfig } from '../../support/redis.js';
import { redisClusterOrSkip } from '../../support/redis-cluster.js';

let skipped = '';
const cluster = await redisClusterOrSkip({ skip: (msg) => { skipped = msg; } });
const clusterConfig = (prefix: string) => redisConfig('', prefix, { url: undefined, cluster_nodes: cluster!.nodes, groups: 12 });

if (cluster !== undefined) {
  after(() => cluster.stop());
  runPeerStoreSuite('redis cluster', async (clock) => {
    const store = new RedisPeerStore({ config: clusterConfig(freshPrefix()), clock });
    await store.start();
    return store;
  });

  describe('Redis store on a cluster: counted announces in every group', () => {
    let store: RedisPeerStore;
    const clock = new ManualClock(1_700_000_000_000);
    before(async () => {
      store = new RedisPeerStore({ config: clusterConfig(freshPrefix()), clock });
      await store.start();
    });
    after(() => store.stop());

    it('counts per group, whichever master holds it', async () => {
      const user = Buffer.alloc(16, 2);
      const masters = new Set<string>();
      for (let g = 0; g < 12; g++) {
        const ih = Buffer.concat([Buffer.from([0, g]), Buffer.alloc(18, g)]);
        assert.equal(store.keys.groupOf(ih), g);
        for (const [i, up] of [[1, 100], [1, 250], [2, 7]] as const) {
          const req: AnnounceRequest = { infoHash: ih, peer: peer(i), event: up === 100 || up === 7 ? 'started' : 'none', uploaded: up, downloaded: 0, left: 0,
            numWant: 10, compact: true, noPeerId: false, transport: 'http' };
          const record = encodeRecord(new DeltaScratch().fill(0, user, req, {} as RequestContext,
            { deltaUp: 0, deltaDown: 0, seedTime: 0, leechTime: 0, snatch: false, flags: 0, next: null }, clock.nowMs()));
          const r = await store.countedAnnounce({ infoHash: ih, peer: peer(i), role: 'seeder', event: req.event, numWant: 10, hidden: false, user, record,
            upMult: 2, downMult: 1, nowMs: clock.nowMs(), maxGapMs: 60_000 });
          assert.equal(r.outcome.creditUp, (up === 250 ? 150 : up) * 2);
          assert.equal(r.outcome.group, g);
        }
        assert.deepEqual(await store.scrapeSwarm(ih), { complete: 2, incomplete: 0, downloaded: 0 });
        const slot = Number(await store.client.call('CLUSTER', 'KEYSLOT', store.keys.group(g).seen));
        masters.add(String(slot < 5461 ? 0 : slot < 10923 ? 1 : 2));
      }
      assert.equal(masters.size, 3, 'the groups are spread over the three masters');
      assert.deepEqual(await store.stats(), { swarms: 12, seeders: 24, leechers: 0 });
      clock.advance(10 * 60_000);
      assert.equal(await store.collectGarbage(clock.nowMs() - 60_000), 24, 'GC walks the groups on every master');
    });
  });
} else {
  describe('Redis store on a cluster', () => it('needs redis-server and redis-cli', (t) => t.skip(skipped)));
}
