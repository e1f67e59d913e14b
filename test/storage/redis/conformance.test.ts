/** The peer store conformance suite on the Redis store: each test its own key prefix, dropped afterwards. */
import { after, describe, it } from 'node:test';
import { runPeerStoreSuite } from '../peer-store-suite.js';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { dropPrefix, freshPrefix, redisConfig, redisUrlOrSkip } from '../../support/redis.js';

let skipped = '';
const url = await redisUrlOrSkip({ skip: (msg) => { skipped = msg; } });
const prefixes: string[] = [];

if (url !== undefined) {
  runPeerStoreSuite('redis', async (clock) => {
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const store = new RedisPeerStore({ config: redisConfig(url, prefix), clock });
    await store.start();
    return store;
  });
  after(async () => {
    for (const p of prefixes) await dropPrefix(url, p);
  });
} else {
  describe('peer store conformance: redis', () => it('needs Redis', (t) => t.skip(skipped)));
}
