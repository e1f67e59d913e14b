/**
 * Redis for tests: the real server on 127.0.0.1:6379 (db 0), shared with other test runs. In CI
 * (CI=true) an unreachable server fails the test; elsewhere the test is skipped with a one-line
 * reason, as test/support/postgres.ts does for PostgreSQL. Every test works under a key prefix of
 * its own (random) and deletes its keys afterwards: never FLUSHDB/FLUSHALL on a shared server.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env['PRIVTRAK_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

/** Undefined if the server answers PING, else why not. */
export async function redisProblem(url = REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    client.disconnect();
  }
}

/** Returns the URL, or skips the test (outside CI) when Redis is not there. */
export async function redisUrlOrSkip(t: { skip(msg: string): void }): Promise<string | undefined> {
  const problem = await redisProblem();
  if (problem === undefined) return REDIS_URL;
  if (process.env['CI'] === 'true') throw new Error(`Redis is required in CI but unreachable at ${REDIS_URL}: ${problem}`);
  t.skip(`Redis not reachable at ${REDIS_URL} (${problem})`);
  return undefined;
}

/** A key prefix no other test uses: `ptest:<random>:`. */
export function freshPrefix(): string {
  return `ptest:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key of a prefix: plain (`P...`) and hash-tagged (`{P...}`) names. */
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
