/**
 * Redis for tests: the real server on 127.0.0.1:6379 (db 0), shared with other test runs. In CI
 * (CI=true) an unreachable server fails the test; elsewhere the test is skipped with a one-line
 * reason. Each test works under a key prefix of its own and deletes its keys afterwards (never
 * FLUSHDB: others use the same server at the same time).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisStorageConfig } from '../../src/config/schema.js';

export const REDIS_URL = process.env['PRIVTRAK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

async function reachable(url: string): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // the failure is the connect() rejection
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    client.disconnect();
  }
}

/** Returns the URL, or skips the test (outside CI) when Redis is not there. */
export async function redisUrlOrSkip(t: { skip(msg: string): void }): Promise<string | undefined> {
  const problem = await reachable(REDIS_URL);
  if (problem === undefined) return REDIS_URL;
  if (process.env['CI'] === 'true') throw new Error(`Redis is required in CI but unreachable at ${REDIS_URL}: ${problem}`);
  t.skip(`Redis not reachable at ${REDIS_URL} (${problem})`);
  return undefined;
}

/** A key prefix no other test uses. */
export function freshPrefix(): string {
  return `pttest-${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (group keys `{<prefix>g<g>}:...` and `<prefix>{...}` keys). */
export async function dropPrefix(url: string, prefix: string): Promise<number> {
  const client = new Redis(url);
  let dropped = 0;
  try {
    for (const pattern of [`{${prefix}*`, `${prefix}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next.toString();
        if (keys.length > 0) dropped += await client.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
  return dropped;
}

/** A redis storage config for tests: the given URL and prefix, the schema's defaults otherwise. */
export function redisConfig(url: string, prefix: string, over: Partial<RedisStorageConfig> = {}): RedisStorageConfig {
  return {
    gc_interval: 180_000, peer_lifetime: 31 * 60_000, prometheus_reporting_interval: 1000,
    url, cluster_nodes: [], key_prefix: prefix, groups: 16, command_timeout: 2000, max_stream_entries: 200_000,
    ...over,
  };
}

/** Undefined if the server answers PING, else why not. */
export async function redisProblem(url = REDIS_URL): Promise<string | undefined> {
  return reachable(url);
}

/** Deletes every key of a prefix on an open client: plain (`P...`) and hash-tagged (`{P...}`) names. */
export async function deletePrefix(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next.toString();
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}
