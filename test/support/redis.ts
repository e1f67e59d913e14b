/**
 * Redis for tests: the real server on 127.0.0.1:6379 (db 0), shared with other test runs at the
 * same time. In CI (CI=true) an unreachable server fails the test; elsewhere the test is skipped
 * with a one-line reason. Each test uses a key prefix of its own (uniquePrefix) and deletes its
 * keys afterwards (deleteKeys): never FLUSHDB/FLUSHALL here.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env['PRIVTRAK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

/** A client that fails fast instead of queueing commands while disconnected. */
export function testRedisClient(url = REDIS_URL): Redis {
  return new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
}

/** Why Redis at `url` cannot be used, or undefined if it answers PING. */
export async function redisProblem(url = REDIS_URL): Promise<string | undefined> {
  const client = testRedisClient(url);
  client.on('error', () => undefined);
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
export async function redisUrlOrSkip(t: { skip(msg: string): void }, url = REDIS_URL): Promise<string | undefined> {
  const problem = await redisProblem(url);
  if (problem === undefined) return url;
  if (process.env['CI'] === 'true') throw new Error(`Redis is required in CI but unreachable at ${url}: ${problem}`);
  t.skip(`Redis not reachable at ${url} (${problem})`);
  return undefined;
}

/** A key prefix no other test uses ("privtrak-test-<hex>:"). */
export function uniquePrefix(): string {
  return `privtrak-test-${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key containing `prefix` (hash-tagged keys start with "{<prefix>"). Returns how many. */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<number> {
  const client = testRedisClient(url);
  client.on('error', () => undefined);
  await client.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scanBuffer(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
      cursor = next.toString();
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}
