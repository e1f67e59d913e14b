/** The private Redis harness (redis-cluster.ts) does what the cluster and fault tests rely on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { nodeClient, redisBinariesOrSkip, startPrivateRedis, startRedisCluster } from './redis-cluster.js';

async function call(port: number, ...args: string[]): Promise<unknown> {
  const c = nodeClient(port);
  try {
    await c.connect();
    return await c.call(args[0]!, ...args.slice(1));
  } finally {
    c.disconnect();
  }
}

describe('private Redis harness', () => {
  it('starts a three-master cluster: cluster_state ok, hash tags spread over the masters, one tag = one slot, stop() kills it', async (t) => {
    if (!redisBinariesOrSkip(t)) return;
    const cluster = await startRedisCluster();
    let client: Cluster | undefined;
    try {
      assert.equal(cluster.nodes.length, 3);
      for (const port of cluster.ports) {
        assert.match(String(await call(port, 'CLUSTER', 'INFO')), /cluster_state:ok/);
        const masters = String(await call(port, 'CLUSTER', 'NODES')).split('\n').filter((l) => l.includes('master'));
        assert.equal(masters.length, 3, `node ${port} sees three masters`);
      }
      client = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })), { redisOptions: { connectTimeout: 2000 } });
      // The key layout of the shared store: one hash tag per group. Each group's keys must live on one node, groups on several.
      const tags = Array.from({ length: 16 }, (_, g) => `{privtrak-test:g${g}}`);
      for (const tag of tags) {
        await client.set(`${tag}:a`, 'x');
        await client.set(`${tag}:b`, 'y');
      }
      const owners = new Set<number>();
      for (const tag of tags) {
        const holders = [];
        for (const port of cluster.ports) {
          const slot = Number(await call(port, 'CLUSTER', 'KEYSLOT', `${tag}:a`));
          assert.equal(Number(await call(port, 'CLUSTER', 'KEYSLOT', `${tag}:b`)), slot, 'both keys of a tag in one slot');
          if (Number(await call(port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot))) === 2) holders.push(port);
        }
        assert.equal(holders.length, 1, `${tag}: its keys on exactly one master`);
        owners.add(holders[0]!);
      }
      assert.equal(owners.size, 3, 'the 16 tags land on all three masters');
      // One atomic step may touch the keys of one tag, never of two.
      assert.equal(await client.eval("redis.call('set', KEYS[1], 'z'); return redis.call('get', KEYS[2])", 2, `${tags[0]}:a`, `${tags[0]}:b`), 'y');
      await assert.rejects(client.eval('return 1', 2, `${tags[0]}:a`, `${tags[1]}:a`), /CROSSSLOT|slot/i);
    } finally {
      client?.disconnect();
      await cluster.stop();
    }
    for (const port of cluster.ports) await assert.rejects(call(port, 'PING'), 'every node is gone after stop()');
  });

  for (const appendfsync of ['always', 'everysec'] as const) {
    it(`a private server with AOF (appendfsync ${appendfsync}) keeps acknowledged writes across an immediate kill -9 and SHUTDOWN restarts on the same port`, async (t) => {
      if (!redisBinariesOrSkip(t)) return;
      const redis = await startPrivateRedis({ appendfsync });
      try {
        assert.match(String(await call(redis.port, 'CONFIG', 'GET', 'appendfsync')), new RegExp(appendfsync));
        for (let i = 0; i < 100; i++) await call(redis.port, 'INCR', 'counter');
        await call(redis.port, 'XADD', 'stream', '1-1', 'r', 'record');
        // No wait, even with everysec: Redis write(2)s the AOF before it replies, so a killed
        // process loses nothing acknowledged (the page cache has it; only a machine crash loses
        // what was not fsynced yet).
        await redis.restart('kill');
        assert.equal(await call(redis.port, 'GET', 'counter'), '100');
        assert.equal(await call(redis.port, 'XLEN', 'stream'), 1);
        await call(redis.port, 'INCR', 'counter');
        await redis.restart('shutdown');
        assert.equal(await call(redis.port, 'GET', 'counter'), '101');
        assert.ok(existsSync(join(redis.dir, 'appendonlydir')), 'the AOF is in the server dir');
      } finally {
        await redis.stop();
      }
      assert.equal(existsSync(redis.dir), false);
    });
  }

  it('without AOF a restart loses everything (what the persistence guarantees in the README rest on)', async (t) => {
    if (!redisBinariesOrSkip(t)) return;
    const redis = await startPrivateRedis({ appendonly: false });
    try {
      await call(redis.port, 'SET', 'k', 'v');
      await redis.restart('kill');
      assert.equal(await call(redis.port, 'GET', 'k'), null);
    } finally {
      await redis.stop();
    }
  });
});
