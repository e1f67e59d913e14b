/**
 * The Redis store says at start when Redis runs with a setting under which counts cannot stay
 * exact: an eviction policy other than noeviction (an evicted baseline or stream entry).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { RedisPeerStore } from '../../../src/storage/redis/redis-store.js';
import { ManualClock } from '../../../src/clock.js';
import { freshPrefix, redisConfig } from '../../support/redis.js';
import { privateRedisOrSkip } from '../../support/redis-cluster.js';

/** Starts a store on `url` and returns the warnings it logged while starting. */
async function startWarnings(url: string): Promise<string[]> {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
  const store = new RedisPeerStore({ config: redisConfig(url, freshPrefix()), clock: new ManualClock(0), logger: pino({ level: 'warn' }, sink) });
  try {
    await store.start();
  } finally {
    await store.stop();
  }
  return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
}

describe('Redis store: settings that break exact counts', () => {
  it('warns at start when maxmemory-policy evicts keys, and says nothing under noeviction', async (t) => {
    const redis = await privateRedisOrSkip(t, { appendonly: false });
    if (redis === undefined) return;
    const admin = new Redis(redis.url);
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const evicting = await startWarnings(redis.url);
      assert.equal(evicting.length, 1, evicting.join('\n'));
      assert.match(evicting[0]!, /maxmemory-policy is allkeys-lru: .*set it to noeviction/);
      assert.ok(evicting[0]!.includes(`127.0.0.1:${redis.port}`), 'the warning names the server');
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      assert.deepEqual(await startWarnings(redis.url), []);
    } finally {
      admin.disconnect();
      await redis.stop();
    }
  });
});
