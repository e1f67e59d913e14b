/**
 * PostgreSQL for tests: the real server on 127.0.0.1:5432 (trust auth, database `test`).
 * In CI (CI=true) an unreachable server fails the test; elsewhere the test is skipped with
 * a one-line reason. Each test works in a schema of its own, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env['PRIVTRAK_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Returns the URL, or skips the test (outside CI) when PostgreSQL is not there. */
export async function postgresUrlOrSkip(t: { skip(msg: string): void }): Promise<string | undefined> {
  const problem = await reachable(POSTGRES_URL);
  if (problem === undefined) return POSTGRES_URL;
  if (process.env['CI'] === 'true') throw new Error(`PostgreSQL is required in CI but unreachable at ${POSTGRES_URL}: ${problem}`);
  t.skip(`PostgreSQL not reachable at ${POSTGRES_URL} (${problem})`);
  return undefined;
}

export async function freshSchema(url: string): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `privtrak_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE SCHEMA ${name}`);
  await client.end();
  return {
    name,
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      await c.end();
    },
  };
}
